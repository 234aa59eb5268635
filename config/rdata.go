package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// recordTypes are the static record types gslbd serves.
var recordTypes = []string{"A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA", "NS"}

// parseRData parses a static record value in zone-file RDATA form. Names in
// it are relative to origin unless they end with a dot. It never imports
// miekg/dns: the dns package builds wire records from RData.
func parseRData(typ, value, origin string) (RData, error) {
	var r RData
	value = strings.TrimSpace(value)
	switch typ {
	case "A", "AAAA":
		a, err := parseAddr(value)
		if err != nil {
			return r, err
		}
		if typ == "A" && !a.Is4() {
			return r, fmt.Errorf("an A record needs an IPv4 address, got %q", value)
		}
		if typ == "AAAA" && (!a.Is6() || a.Is4In6()) {
			return r, fmt.Errorf("an AAAA record needs an IPv6 address, got %q", value)
		}
		r.Addr = a.String()
	case "CNAME", "NS":
		t, err := target(value, origin, false)
		if err != nil {
			return r, err
		}
		r.Target = t
	case "TXT":
		txt, err := parseTXT(value)
		if err != nil {
			return r, err
		}
		r.Text = txt
	case "MX":
		f := strings.Fields(value)
		if len(f) != 2 {
			return r, fmt.Errorf("MX value must be \"PREFERENCE EXCHANGE\", got %q", value)
		}
		pref, err := uint16Field("preference", f[0])
		if err != nil {
			return r, err
		}
		t, err := target(f[1], origin, true)
		if err != nil {
			return r, err
		}
		r.Pref, r.Target = pref, t
	case "SRV":
		f := strings.Fields(value)
		if len(f) != 4 {
			return r, fmt.Errorf("SRV value must be \"PRIORITY WEIGHT PORT TARGET\", got %q", value)
		}
		var nums [3]uint16
		for i, name := range []string{"priority", "weight", "port"} {
			n, err := uint16Field(name, f[i])
			if err != nil {
				return r, err
			}
			nums[i] = n
		}
		t, err := target(f[3], origin, true)
		if err != nil {
			return r, err
		}
		r.Priority, r.Weight, r.Port, r.Target = nums[0], nums[1], nums[2], t
	case "CAA":
		return parseCAA(value)
	default:
		return r, fmt.Errorf("unsupported record type %q (want one of %s)", typ, strings.Join(recordTypes, " "))
	}
	return r, nil
}

// parseAddr parses an IP address and refuses scoped (zoned) ones, which
// cannot be put in an answer.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return a, fmt.Errorf("invalid IP address %q", s)
	}
	if a.Zone() != "" {
		return a, fmt.Errorf("IP address %q must not have a zone", s)
	}
	return a, nil
}

// target qualifies a name in RDATA; root (".") is allowed where the RFCs
// give it a meaning (null MX, "no service" SRV).
func target(v, origin string, rootOK bool) (string, error) {
	if v == "" {
		return "", errors.New("missing target name")
	}
	t := qualify(v, origin)
	if t == "." && !rootOK {
		return "", errors.New("target must not be the root")
	}
	if err := checkName(t); err != nil {
		return "", err
	}
	return t, nil
}

func uint16Field(name, v string) (uint16, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%s %q must be a whole number from 0 to 65535", name, v)
	}
	return uint16(n), nil
}

// parseTXT reads one or more quoted character-strings ("a" "b"), or takes
// unquoted text verbatim as one string. Strings longer than 255 bytes are
// split, on UTF-8 boundaries, into several.
func parseTXT(v string) ([]string, error) {
	var parts []string
	if strings.HasPrefix(v, `"`) {
		rest := v
		for rest != "" {
			s, tail, err := quoted(rest)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
			rest = strings.TrimLeft(tail, " \t")
			if rest != "" && !strings.HasPrefix(rest, `"`) {
				return nil, fmt.Errorf("TXT value: text after a quoted string must be another quoted string, got %q", rest)
			}
		}
	} else {
		parts = []string{v}
	}
	var out []string
	for _, p := range parts {
		out = append(out, splitText(p, 255)...)
	}
	return out, nil
}

// quoted reads one double-quoted string at the start of s, honouring \" and
// \\ (and \DDD decimal escapes, as in zone files), and returns the rest.
func quoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, errors.New("want a double-quoted string")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+3 < len(s) && isDigits(s[i+1:i+4]) {
				n, _ := strconv.Atoi(s[i+1 : i+4])
				if n > 255 {
					return "", "", fmt.Errorf("escape \\%s is above 255", s[i+1:i+4])
				}
				b.WriteByte(byte(n))
				i += 3
				continue
			}
			if i+1 >= len(s) {
				return "", "", errors.New("unterminated escape at end of string")
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated quoted string")
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitText cuts s into pieces of at most n bytes, not splitting a UTF-8
// sequence when it can avoid it. An empty s is one empty string.
func splitText(s string, n int) []string {
	if len(s) <= n {
		return []string{s}
	}
	var out []string
	for len(s) > n {
		cut := n
		for cut > n-utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if !utf8.RuneStart(s[cut]) {
			cut = n // not UTF-8 text; split on bytes
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// parseCAA reads `FLAGS TAG VALUE`; VALUE may be quoted.
func parseCAA(v string) (RData, error) {
	var r RData
	flags, rest, ok := cutSpace(v)
	tag, value, ok2 := cutSpace(rest)
	if !ok || !ok2 {
		return r, fmt.Errorf(`CAA value must be 'FLAGS TAG "VALUE"', got %q`, v)
	}
	f, err := strconv.ParseUint(flags, 10, 8)
	if err != nil {
		return r, fmt.Errorf("CAA flags %q must be a whole number from 0 to 255", flags)
	}
	tag = strings.ToLower(tag)
	if tag == "" || len(tag) > 255 {
		return r, fmt.Errorf("CAA tag %q must be 1 to 255 characters", tag)
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return r, fmt.Errorf("CAA tag %q may hold only letters and digits", tag)
		}
	}
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, `"`) {
		s, tail, err := quoted(value)
		if err != nil {
			return r, fmt.Errorf("CAA value: %w", err)
		}
		if strings.TrimSpace(tail) != "" {
			return r, fmt.Errorf("CAA value: unexpected text %q after the quoted value", tail)
		}
		value = s
	}
	r.Flag, r.Tag, r.CAAValue = uint8(f), tag, value
	return r, nil
}

// cutSpace splits s at its first run of blanks.
func cutSpace(s string) (before, after string, found bool) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, "", false
	}
	return s[:i], strings.TrimLeft(s[i:], " \t"), true
}

package config

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// utf8BOM is accepted (and dropped) at the start of a file: editors on
// some systems write one.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// precheck refuses, before the YAML parser sees it, a file that is too
// large or nested too deeply: the parser's time and memory grow far
// faster than the file for deep nesting (a 34 KB file of nested flow
// sequences took 442 MB). It adds one problem, marks the parse fatal and
// reports false when data must not be parsed.
func precheck(data []byte, p *problems) bool {
	if len(data) > MaxFileSize {
		p.addAt("", 0, "the file is %d bytes; the limit is %d", len(data), MaxFileSize)
		p.fatal = true
		return false
	}
	line, depth, values := nesting(data)
	if depth > maxDepth {
		p.addAt("", line, "nesting deeper than %d levels; refusing to parse", maxDepth)
		p.fatal = true
		return false
	}
	if values > maxValues {
		p.addAt("", 0, "the file holds about %d values; the limit is %d (some 160,000 GSLB names of three endpoints); refusing to parse", values, maxValues)
		p.fatal = true
		return false
	}
	return true
}

// maxValues bounds the values (scalars, lists and mappings) a file may
// hold, counted from above before parsing: the parsed tree takes a few
// hundred bytes a value, so the 64 MB size limit alone would let 32
// million values ("1,1,1,...") take many gigabytes. bench/scale.sh's
// 100k names (46 MB) are 4.8 million by this count.
const maxValues = 8_000_000

// nesting estimates the deepest nesting in a YAML text without parsing
// it, and the line where it first exceeds maxDepth (else the deepest
// line). Block nesting is the number of distinct indentation levels open
// plus the "- " sequence markers starting a line; flow nesting counts
// open '[' and '{' outside quotes and comments. It may over-count odd
// layouts (text inside block scalars), which at maxDepth levels no
// config has. It also counts the values the parser would make, from
// above: every word or quoted string outside comments, every '[' and
// '{', every "- " marker and every ": " (a mapping at most per key).
func nesting(data []byte) (line, deepest, values int) {
	var indents []int // open block indentation levels
	flow := 0
	for n, raw := range bytes.Split(data, []byte{'\n'}) {
		ln := n + 1
		i := 0
		for i < len(raw) && raw[i] == ' ' {
			i++
		}
		rest := raw[i:]
		if flow == 0 {
			if len(bytes.TrimSpace(rest)) == 0 || rest[0] == '#' {
				continue
			}
			for len(indents) > 0 && indents[len(indents)-1] >= i {
				indents = indents[:len(indents)-1]
			}
			indents = append(indents, i)
		}
		depth := len(indents) + flow
		// Sequence markers at the start of the line each open a level.
		for j := 0; j+1 < len(rest) && rest[j] == '-' && (rest[j+1] == ' ' || rest[j+1] == '\t'); {
			depth++
			j += 2
			for j < len(rest) && rest[j] == ' ' {
				j++
			}
		}
		var quote byte
		inWord := false
		for j := 0; j < len(rest); j++ {
			ch := rest[j]
			word := false
			switch {
			case quote != 0:
				if ch == quote {
					quote = 0
				}
				continue
			case ch == '\'' || ch == '"':
				quote = ch
				values++
			case ch == '#' && (j == 0 || rest[j-1] == ' ' || rest[j-1] == '\t'):
				j = len(rest)
			case ch == '[' || ch == '{':
				flow++
				values++
				depth = max(depth, len(indents)+flow)
			case ch == ']' || ch == '}':
				if flow > 0 {
					flow--
				}
			case ch == ':' || ch == '-':
				if j+1 == len(rest) || rest[j+1] == ' ' || rest[j+1] == '\t' || rest[j+1] == '\r' {
					values++ // a mapping's key or a sequence item
				} else {
					word = true
				}
			case ch == ' ' || ch == '\t' || ch == '\r' || ch == ',':
			default:
				word = true
			}
			if word && !inWord {
				values++
			}
			inWord = word
			if depth > maxDepth {
				return ln, depth, values
			}
		}
		if depth > deepest {
			deepest, line = depth, ln
		}
		if deepest > maxDepth {
			return line, deepest, values
		}
	}
	return line, deepest, values
}

// Limits on values, each with the reason it exists.
const (
	// maxUDPSize is the largest EDNS0 payload worth advertising: above
	// 4096 fragmentation makes large UDP answers unreliable (DNS flag day
	// 2020 recommends 1232).
	maxUDPSize = 4096
	// maxTCPIdle bounds how long an idle TCP client may hold a
	// connection (RFC 7766 suggests seconds).
	maxTCPIdle = 10 * time.Minute
	// minProbeInterval keeps a typo ("1ms") from turning a probe into a
	// flood against the backend.
	minProbeInterval = 100 * time.Millisecond
	// maxWeight keeps the sum of a name's weights far from overflowing.
	maxWeight = 1_000_000
	// The gossip codec's limits (cluster/codec.go: maxNodeLen,
	// maxEndpointLen, maxRegionLen): a longer name could be configured
	// but never gossiped.
	maxNodeLen     = 255
	maxEndpointLen = 512
	maxRegionLen   = 255
	// maxRRsetWire is the most a DNS message can carry: an RRset larger
	// than that cannot be answered even over TCP.
	maxRRsetWire = 65535
)

// lengthLimit reports a name longer than the gossip codec carries.
func (k *checker) lengthLimit(path, what, v string, limit int) {
	if len(v) > limit {
		k.p.add(path, "%s is %d bytes; at most %d fit the gossip protocol", what, len(v), limit)
	}
}

// port checks the port of a probe URL.
func (k *checker) urlPort(path string, u *url.URL) {
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			k.p.add(path, "port %q must be a number from 1 to 65535", p)
		}
	}
}

// wireName is the length of fqdn in DNS wire form.
func wireName(fqdn string) int {
	if fqdn == "." {
		return 1
	}
	return len(fqdn) + 1
}

// rdataWire is the wire length of one record's RDATA, or 0 if unknown.
func rdataWire(typ string, rd RData) int {
	switch typ {
	case "A":
		return 4
	case "AAAA":
		return 16
	case "CNAME", "NS":
		return wireName(rd.Target)
	case "MX":
		return 2 + wireName(rd.Target)
	case "SRV":
		return 6 + wireName(rd.Target)
	case "TXT":
		n := 0
		for _, s := range rd.Text {
			n += 1 + len(s)
		}
		return n
	case "CAA":
		return 2 + len(rd.Tag) + len(rd.CAAValue)
	}
	return 0
}

// rrsetSizes refuses static RRsets and GSLB names whose answer could not
// fit in one DNS message (65,535 bytes): the header, the question and
// each record with its owner compressed to a 2-byte pointer.
func (k *checker) rrsetSizes(zp string, z *Zone) {
	type key struct{ name, typ string }
	size := map[key]int{}
	first := map[key]int{}
	var order []key
	for i, r := range z.Records {
		n := rdataWire(r.Type, r.Parsed)
		if n == 0 && r.Type != "TXT" {
			continue // invalid, reported elsewhere
		}
		kk := key{r.Name, r.Type}
		if _, ok := size[kk]; !ok {
			size[kk] = 12 + wireName(r.Name) + 4
			first[kk] = i
			order = append(order, kk)
		}
		size[kk] += 2 + 10 + n
	}
	for _, kk := range order {
		if size[kk] > maxRRsetWire {
			k.p.add(fmt.Sprintf("%s.records[%d]", zp, first[kk]),
				"the %s records of %s take %d bytes in DNS wire form; at most %d fit in one message", kk.typ, kk.name, size[kk], maxRRsetWire)
		}
	}
	for ni, n := range z.Names {
		// With all_down open every endpoint may be answered at once.
		v4, v6 := 12+wireName(n.Name)+4, 12+wireName(n.Name)+4
		for _, e := range n.Endpoints {
			for _, a := range e.Addresses {
				if strings.Contains(a, ":") {
					v6 += 2 + 10 + 16
				} else {
					v4 += 2 + 10 + 4
				}
			}
		}
		if m := max(v4, v6); m > maxRRsetWire {
			k.p.add(fmt.Sprintf("%s.names[%d].endpoints", zp, ni),
				"the endpoints' addresses take %d bytes in DNS wire form when all are answered; at most %d fit in one message", m, maxRRsetWire)
		}
	}
}

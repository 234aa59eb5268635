package config

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// RRL configures response rate limiting of UDP replies, in the style of
// BIND and Knot. Absent, RRL is off. Replies over TCP and replies to
// clients that return a valid DNS server cookie are never limited. See
// the README, "Sizing rate limiting", for how to choose the rates.
type RRL struct {
	// ResponsesPerSecond is how many identical answers (same query name and
	// type, including NODATA and referrals) one client prefix gets per
	// second. Required: 1 to 1000000.
	ResponsesPerSecond int `yaml:"responses_per_second"`
	// ErrorsPerSecond limits REFUSED, SERVFAIL and FORMERR replies per
	// prefix, all names together. Default responses_per_second; 0 turns
	// the limit off.
	ErrorsPerSecond int `yaml:"errors_per_second"`
	// NXDomainsPerSecond limits NXDOMAIN replies per prefix and zone (so a
	// random-subdomain flood is one bucket). Default responses_per_second;
	// 0 turns the limit off.
	NXDomainsPerSecond int `yaml:"nxdomains_per_second"`
	// Window is how long, in whole seconds, a prefix's rate is averaged
	// over: a prefix that went over stays limited until it has been under
	// the rate for up to this long. Default 15s; 1s to 1h.
	Window Duration `yaml:"window"`
	// Slip sends every Slip-th limited reply as an empty truncated (TC=1)
	// reply, so a real client behind a spoofed address retries over TCP;
	// a client that sent a DNS cookie gets BADCOOKIE with a fresh server
	// cookie instead. The others are dropped. Default 2; 0 drops every
	// limited reply, 1 slips every one; at most 100.
	Slip int `yaml:"slip"`
	// IPv4Prefix aggregates IPv4 clients into networks of this length.
	// Default 24; 8 to 32.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	// IPv6Prefix aggregates IPv6 clients. Default 56; 16 to 128.
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// Exempt lists networks (CIDR, e.g. "192.0.2.0/24", or one address)
	// never limited: your own and your biggest known resolvers.
	Exempt []string `yaml:"exempt"`
	// LogOnly counts and logs what would be limited but answers anyway;
	// use it to size the rates before enforcing them.
	LogOnly bool `yaml:"log_only"`
	// TableSize is the number of rate buckets (rounded up to a power of
	// two, at least 4096). Memory is fixed at 48 bytes a bucket whatever
	// a flood does. Default 131072 (6 MiB); at most 16777216. Changing
	// it, or turning RRL on or off, needs a restart.
	TableSize int `yaml:"table_size"`

	// ExemptPrefixes is Exempt parsed; set by Parse.
	ExemptPrefixes []netip.Prefix `yaml:"-"`
}

// Cookies configures DNS Cookies (RFC 7873, with the RFC 9018 server
// cookie: SipHash-2-4, the same construction as BIND and Knot). Cookies
// are always answered; without a secret each node makes a random one at
// start, so a client's cookie only validates on the node that made it.
type Cookies struct {
	// Secrets are 128-bit SipHash keys as 32 hex digits (make one with:
	// openssl rand -hex 16). Every node of a cluster needs the
	// same list. The first makes new cookies; all validate, so rotate by
	// adding the new secret second on every node, then moving it first,
	// then, an hour later, dropping the old one.
	Secrets []string `yaml:"secrets"`
	// SecretFile holds one secret per line ('#' comments allowed); Prepare
	// reads it and appends its secrets to Secrets.
	SecretFile string `yaml:"secret_file"`
	// Require answers a UDP query that carries a client cookie but no
	// valid server cookie with BADCOOKIE and a fresh server cookie only,
	// as BIND's require-server-cookie: the client retries with it (dig,
	// kdig and resolvers do), so only clients that proved their address
	// get answers over UDP. Queries without any cookie and TCP queries
	// are answered as always. Default false: such a query gets a normal
	// answer with a fresh cookie. Applied by a reload.
	Require bool `yaml:"require"`
}

// Defaults and limits of the rrl section.
const (
	defaultRRLWindow    = 15 * time.Second
	defaultRRLSlip      = 2
	defaultRRLIPv4      = 24
	defaultRRLIPv6      = 56
	defaultRRLTableSize = 1 << 17
	maxRRLRate          = 1_000_000
	maxRRLWindow        = time.Hour
	maxRRLSlip          = 100
	minRRLTableSize     = 4096
	maxRRLTableSize     = 1 << 24
)

// protection fills defaults for and validates the rrl and cookies sections.
func (k *checker) protection() {
	if k.c.RRL != nil {
		k.rrl(k.c.RRL)
	}
	k.cookies(&k.c.Cookies)
}

func (k *checker) rrl(r *RRL) {
	if r.ResponsesPerSecond < 1 || r.ResponsesPerSecond > maxRRLRate {
		k.p.add("rrl.responses_per_second", "must be 1 to %d, got %d (leave the rrl section out to turn rate limiting off)", maxRRLRate, r.ResponsesPerSecond)
	}
	rate := func(path string, v *int) {
		if !k.p.present(path) {
			*v = r.ResponsesPerSecond
			return
		}
		if *v < 0 || *v > maxRRLRate {
			k.p.add(path, "must be 0 (no limit) to %d, got %d", maxRRLRate, *v)
		}
	}
	rate("rrl.errors_per_second", &r.ErrorsPerSecond)
	rate("rrl.nxdomains_per_second", &r.NXDomainsPerSecond)

	k.dur("rrl.window", &r.Window, defaultRRLWindow)
	if w := r.Window.D(); w%time.Second != 0 || w > maxRRLWindow {
		k.p.add("rrl.window", "must be a whole number of seconds from 1s to %s, got %s", maxRRLWindow, w)
	}
	k.intIn("rrl.slip", &r.Slip, defaultRRLSlip, 0, maxRRLSlip)
	k.intIn("rrl.ipv4_prefix", &r.IPv4Prefix, defaultRRLIPv4, 8, 32)
	k.intIn("rrl.ipv6_prefix", &r.IPv6Prefix, defaultRRLIPv6, 16, 128)
	k.intIn("rrl.table_size", &r.TableSize, defaultRRLTableSize, minRRLTableSize, maxRRLTableSize)

	r.ExemptPrefixes = nil
	for i, s := range r.Exempt {
		path := fmt.Sprintf("rrl.exempt[%d]", i)
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				k.p.add(path, "%q is not a CIDR network nor an IP address", s)
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Masked() != p {
			k.p.add(path, "%q has host bits set; did you mean %s?", s, p.Masked())
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			// Clients are matched by their IPv4 address, never the mapped form.
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		r.ExemptPrefixes = append(r.ExemptPrefixes, p)
	}
}

// intIn defaults *v to def when the key is absent and checks lo <= *v <= hi.
func (k *checker) intIn(path string, v *int, def, lo, hi int) {
	if !k.p.present(path) {
		*v = def
		return
	}
	if *v < lo || *v > hi {
		k.p.add(path, "must be %d to %d, got %d", lo, hi, *v)
	}
}

func (k *checker) cookies(c *Cookies) {
	for i := range c.Secrets {
		c.Secrets[i] = strings.ToLower(strings.TrimSpace(c.Secrets[i]))
		if err := checkCookieSecret(c.Secrets[i]); err != nil {
			k.p.add(fmt.Sprintf("cookies.secrets[%d]", i), "%v", err)
		}
	}
}

// cookieSecretFile reads cookies.secret_file (one secret a line, '#'
// comments) and appends its secrets to Secrets; Prepare runs it with the
// other named files.
func cookieSecretFile(c *Cookies, p *problems) {
	data, err := readSmallFile(c.SecretFile, maxKeyFile)
	if err != nil {
		p.add("cookies.secret_file", "cannot read secret file: %v", err)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n, found := 0, 0
	for sc.Scan() {
		n++
		line := strings.ToLower(strings.TrimSpace(sc.Text()))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		found++
		if err := checkCookieSecret(line); err != nil {
			p.add("cookies.secret_file", "%s line %d: %v", c.SecretFile, n, err)
			continue
		}
		c.Secrets = append(c.Secrets, line)
	}
	if err := sc.Err(); err != nil {
		p.add("cookies.secret_file", "reading %s: %v", c.SecretFile, err)
	} else if found == 0 {
		p.add("cookies.secret_file", "%s holds no secrets", c.SecretFile)
	}
}

// checkCookieSecret reports why s is not 32 hex digits.
func checkCookieSecret(s string) error {
	b, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("secret is not hex")
	}
	if len(b) != 16 {
		return fmt.Errorf("secret is %d bytes; want 16, as 32 hex digits (make one with: openssl rand -hex 16)", len(b))
	}
	return nil
}

// SecretBytes decodes Secrets (secret_file's are already appended by
// Prepare), the one making new cookies first. A validated config has only
// decodable secrets; others are skipped.
func (c Cookies) SecretBytes() [][16]byte {
	var out [][16]byte
	for _, s := range c.Secrets {
		b, err := hex.DecodeString(s)
		if err == nil && len(b) == 16 {
			out = append(out, [16]byte(b))
		}
	}
	return out
}

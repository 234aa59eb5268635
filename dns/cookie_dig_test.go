package dns

import (
	"context"
	"encoding/hex"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gslbd/gslbd/internal/testenv"
)

// lookupTool is dig or kdig with the options both need.
type lookupTool struct {
	name, path string
	base       []string // one try, short timeout, no recursion
}

func lookupTools(t *testing.T) []lookupTool {
	return []lookupTool{
		{"dig", testenv.NeedTool(t, "dig", "bind9-dnsutils"), []string{"+tries=1", "+time=5", "+norecurse"}},
		{"kdig", testenv.NeedTool(t, "kdig", "knot-dnsutils"), []string{"+retry=0", "+timeout=5", "+norecurse"}},
	}
}

var (
	toolCookie = regexp.MustCompile(`COOKIE: ([0-9A-Fa-f]+)`)
	toolStatus = regexp.MustCompile(`status: ([A-Z]+)`)
)

// run queries addr and returns the output, the reply's cookie (lower-case
// hex, "" when none) and its status.
func (lt lookupTool) run(t *testing.T, addr string, args ...string) (out, cookie, status string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	all := append(append([]string{"@" + host, "-p", port}, lt.base...), args...)
	b, err := exec.CommandContext(ctx, lt.path, all...).CombinedOutput()
	out = string(b)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", lt.name, all, err, out)
	}
	if m := toolCookie.FindStringSubmatch(out); m != nil {
		cookie = strings.ToLower(m[1])
	}
	if m := toolStatus.FindStringSubmatch(out); m != nil {
		status = m[1]
	}
	return out, cookie, status
}

// TestCookiesWithDigAndKdig: real clients get a server cookie, have it
// accepted when echoed, replaced when altered, accepted by a second node
// sharing the secret, and accepted across a secret rotation.
func TestCookiesWithDigAndKdig(t *testing.T) {
	tools := lookupTools(t)
	s1 := mustSecret(t, "00112233445566778899aabbccddeeff")
	s2 := mustSecret(t, "ffeeddccbbaa99887766554433221100")
	nodeA := NewCookies([]CookieSecret{s1})
	a := startServer(t, wwwAnswerer(), Options{Cookies: nodeA})
	b := startServer(t, wwwAnswerer(), Options{Cookies: NewCookies([]CookieSecret{s1})})
	valid := func(ts *testServer) float64 {
		return testutil.ToFloat64(ts.s.h.cookieC[cookieValid])
	}
	bad := func(ts *testServer) float64 {
		return testutil.ToFloat64(ts.s.h.cookieC[cookieBad])
	}

	for _, lt := range tools {
		t.Run(lt.name, func(t *testing.T) {
			nodeA.SetSecrets([]CookieSecret{s1})
			client := (hex.EncodeToString([]byte(lt.name)) + "00c0ffee00c0ffee")[:16]

			out, full, status := lt.run(t, a.udp, "+cookie="+client, "www.gslb.test", "A")
			if status != "NOERROR" || len(full) != 48 || full[:16] != client || full[16:24] != "01000000" {
				t.Fatalf("server cookie not returned (cookie %q):\n%s", full, out)
			}

			v := valid(a)
			out, got, _ := lt.run(t, a.udp, "+cookie="+full, "www.gslb.test", "A")
			if got != full || valid(a) != v+1 {
				t.Fatalf("echoed cookie not accepted (valid %v→%v, reply cookie %q):\n%s", v, valid(a), got, out)
			}

			altered := full[:46] + flipHex(full[46:])
			bd := bad(a)
			out, got, status = lt.run(t, a.udp, "+cookie="+altered, "www.gslb.test", "A")
			if got == altered || got[:16] != client || bad(a) != bd+1 || status != "NOERROR" {
				t.Fatalf("altered cookie: want a fresh one and a counted rejection (bad %v→%v):\n%s", bd, bad(a), out)
			}

			vb := valid(b)
			out, got, _ = lt.run(t, b.udp, "+cookie="+full, "www.gslb.test", "A")
			if got != full || valid(b) != vb+1 {
				t.Fatalf("second node sharing the secret did not accept node A's cookie:\n%s", out)
			}

			// Rotation: the new secret first, the old one still accepted;
			// the reply carries a cookie made with the new secret.
			nodeA.SetSecrets([]CookieSecret{s2, s1})
			v = valid(a)
			out, rolled, _ := lt.run(t, a.udp, "+cookie="+full, "www.gslb.test", "A")
			if valid(a) != v+1 || rolled == full || len(rolled) != 48 {
				t.Fatalf("cookie made with the old secret refused during rotation:\n%s", out)
			}
			nodeA.SetSecrets([]CookieSecret{s2})
			v = valid(a)
			out, got, _ = lt.run(t, a.udp, "+cookie="+rolled, "www.gslb.test", "A")
			if valid(a) != v+1 || got != rolled {
				t.Fatalf("cookie made with the new secret not accepted after rotation:\n%s", out)
			}
			bd = bad(a)
			if out, _, _ = lt.run(t, a.udp, "+cookie="+full, "www.gslb.test", "A"); bad(a) != bd+1 {
				t.Fatalf("retired secret still accepted:\n%s", out)
			}

			// Over TCP too.
			out, got, _ = lt.run(t, a.udp, "+tcp", "+cookie="+client, "www.gslb.test", "A")
			if len(got) != 48 || got[:16] != client {
				t.Fatalf("no server cookie over TCP:\n%s", out)
			}
		})
	}
}

// TestNSIDWithDigAndKdig: +nsid shows the node name.
func TestNSIDWithDigAndKdig(t *testing.T) {
	tools := lookupTools(t)
	ts := startServer(t, wwwAnswerer(), Options{})
	for _, lt := range tools {
		out, _, status := lt.run(t, ts.udp, "+nsid", "www.gslb.test", "A")
		if status != "NOERROR" || !strings.Contains(out, "NSID") || !strings.Contains(out, `"node-a"`) {
			t.Errorf("%s +nsid:\n%s", lt.name, out)
		}
	}
}

func flipHex(s string) string {
	b, _ := hex.DecodeString(s)
	for i := range b {
		b[i] ^= 0xff
	}
	return hex.EncodeToString(b)
}

// TestCookieRequireWithDigAndKdig: with cookies.require on, a real client
// that sends a client cookie first gets BADCOOKIE with a server cookie,
// retries with it (both tools do) and gets the answer; without a cookie,
// or over TCP, the answer comes at once.
func TestCookieRequireWithDigAndKdig(t *testing.T) {
	tools := lookupTools(t)
	c := NewCookies(nil)
	c.SetRequire(true)
	ts := startServer(t, wwwAnswerer(), Options{Cookies: c})
	retried := map[string]string{"dig": "BADCOOKIE, retrying", "kdig": "retrying with the received one"}
	count := func(st cookieStatus) float64 { return testutil.ToFloat64(ts.s.h.cookieC[st]) }
	for _, lt := range tools {
		t.Run(lt.name, func(t *testing.T) {
			client, valid := count(cookieClientOnly), count(cookieValid)
			out, cookie, _ := lt.run(t, ts.udp, "+cookie", "www.gslb.test", "A")
			statuses := toolStatus.FindAllStringSubmatch(out, -1)
			if !strings.Contains(out, retried[lt.name]) || len(statuses) == 0 || statuses[len(statuses)-1][1] != "NOERROR" ||
				!strings.Contains(out, "192.0.2.80") || len(cookie) != 48 {
				t.Fatalf("want BADCOOKIE, a retry with the server cookie and the answer:\n%s", out)
			}
			if count(cookieClientOnly) != client+1 || count(cookieValid) != valid+1 {
				t.Errorf("client_only %v→%v, valid %v→%v; want one each", client, count(cookieClientOnly), valid, count(cookieValid))
			}
			for _, args := range [][]string{{"+nocookie"}, {"+tcp", "+cookie"}} {
				out, _, status := lt.run(t, ts.udp, append(args, "www.gslb.test", "A")...)
				if status != "NOERROR" || strings.Contains(out, "BADCOOKIE") || !strings.Contains(out, "192.0.2.80") {
					t.Errorf("%v: want the answer at once:\n%s", args, out)
				}
			}
		})
	}
}

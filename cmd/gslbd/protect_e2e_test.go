package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func protectConfig(node, secretFile string) string {
	return fmt.Sprintf(`node: %s
regions:
  - {name: r1, latitude: 39.0, longitude: -77.5, continent: NA}
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    records:
      - {name: www, type: A, value: 192.0.2.80}
rrl:
  responses_per_second: 5
  slip: 2
  window: 5s
cookies:
  secret_file: %s
`, node, secretFile)
}

// metricValue reads one sample ("name{labels}") from a /metrics body; 0
// when absent.
func metricValue(body, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

func (n *node) metric(series string) float64 {
	_, body := n.get("/metrics")
	return metricValue(body, series)
}

// cookieQuery asks www over UDP with a COOKIE option and returns the
// reply and its cookie (hex).
func cookieQuery(t *testing.T, addr, cookie string) (*mdns.Msg, string) {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion("www.gslb.test.", mdns.TypeA)
	m.SetEdns0(1232, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: cookie},
		&mdns.EDNS0_NSID{Code: mdns.EDNS0NSID})
	r, _, err := (&mdns.Client{Net: "udp", Timeout: 3 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("query with cookie %s: %v", cookie, err)
	}
	for _, o := range r.IsEdns0().Option {
		if c, ok := o.(*mdns.EDNS0_COOKIE); ok {
			return r, c.Cookie
		}
	}
	return r, ""
}

func nsidOf(r *mdns.Msg) string {
	for _, o := range r.IsEdns0().Option {
		if n, ok := o.(*mdns.EDNS0_NSID); ok {
			return n.Nsid
		}
	}
	return ""
}

// TestProtectionEndToEnd runs two gslbd processes that share a cookie
// secret file: a cookie from one validates on the other, RRL limits a
// UDP flood but not a client with a valid cookie, and a secret rotated by
// SIGHUP keeps the old cookie valid until the old secret is dropped.
func TestProtectionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	dir := t.TempDir()
	const s1, s2 = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
	secrets := filepath.Join(dir, "cookie.secrets")
	write := func(path, s string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(secrets, s1+"\n")
	cfgA, cfgB := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(cfgA, protectConfig("node-a", secrets))
	write(cfgB, protectConfig("node-b", secrets))
	a := startNode(t, "-config", cfgA)
	b := startNode(t, "-config", cfgB)

	r, cookie := cookieQuery(t, a.udp, "0102030405060708")
	if len(cookie) != 48 || len(r.Answer) != 1 {
		t.Fatalf("no server cookie from node A: %v", r)
	}
	if got := nsidOf(r); got != fmt.Sprintf("%x", "node-a") {
		t.Errorf("NSID = %q, want node-a in hex", got)
	}
	if r, got := cookieQuery(t, b.udp, cookie); got != cookie || nsidOf(r) != fmt.Sprintf("%x", "node-b") {
		t.Fatalf("node B did not accept node A's cookie: sent %s, got %s", cookie, got)
	}
	if v := b.metric(`gslbd_dns_cookies_total{result="valid"}`); v != 1 {
		t.Errorf("node B valid cookies = %v, want 1", v)
	}

	// A flood from this address is limited; the client with the cookie,
	// from the same address, is not.
	full, tc := 0, 0
	for i := 0; i < 60 && tc < 5; i++ {
		r, err := exchangeECS(a.udp, "www.gslb.test", mdns.TypeA, "", 300*time.Millisecond)
		switch {
		case err != nil: // dropped: the client times out
		case r.Truncated:
			tc++
		case len(r.Answer) == 1:
			full++
		}
	}
	if full > 10 || tc == 0 {
		t.Fatalf("flood: %d full, %d TC; want RRL to limit", full, tc)
	}
	for i := range 30 {
		if r, _ := cookieQuery(t, a.udp, cookie); len(r.Answer) != 1 || r.Truncated {
			t.Fatalf("cookie query %d limited: %v", i, r)
		}
	}
	if v := a.metric(`gslbd_dns_rrl_limited_total{action="slipped",class="response"}`); v != float64(tc) {
		t.Errorf("slipped metric %v, client saw %d TC", v, tc)
	}
	if !strings.Contains(a.logs.String(), "rate limiting started") {
		t.Error("no log line for the start of limiting")
	}

	// Rotate: the new secret first, the old one still accepted.
	reloads := func() float64 { return a.metric(`gslbd_config_reloads_total{result="ok"}`) }
	reload := func(content string) {
		t.Helper()
		before := reloads()
		write(secrets, content)
		if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "reload", 10*time.Second, func() bool { return reloads() > before })
	}
	reload(s2 + "\n" + s1 + "\n")
	_, rolled := cookieQuery(t, a.udp, cookie)
	if rolled == cookie || len(rolled) != 48 {
		t.Fatalf("during rotation the reply cookie should be made with the new secret: %s", rolled)
	}
	if v := a.metric(`gslbd_dns_cookies_total{result="valid"}`); v < 31 {
		t.Errorf("old cookie not accepted during rotation (valid = %v)", v)
	}
	reload(s2 + "\n")
	bad := a.metric(`gslbd_dns_cookies_total{result="bad"}`)
	// A bad cookie exempts nothing: the prefix may still be limited from
	// the flood, so this reply may be dropped; the counter says it all.
	stale := new(mdns.Msg)
	stale.SetQuestion("www.gslb.test.", mdns.TypeA)
	stale.SetEdns0(1232, false)
	stale.IsEdns0().Option = append(stale.IsEdns0().Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: cookie})
	_, _, _ = (&mdns.Client{Net: "udp", Timeout: 300 * time.Millisecond}).Exchange(stale, a.udp)
	if v := a.metric(`gslbd_dns_cookies_total{result="bad"}`); v != bad+1 {
		t.Errorf("old secret still accepted after it was dropped (bad %v -> %v)", bad, v)
	}
	if _, got := cookieQuery(t, a.udp, rolled); got != rolled {
		t.Errorf("new-secret cookie not accepted after rotation: %s -> %s", rolled, got)
	}

	// cookies.require by a reload: a client cookie alone gets BADCOOKIE
	// and a server cookie, which then gets the answer.
	before := reloads()
	write(cfgA, protectConfig("node-a", secrets)+"  require: true\n")
	if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reload", 10*time.Second, func() bool { return reloads() > before })
	r, fresh := cookieQuery(t, a.udp, "0807060504030201")
	if r.Rcode != mdns.RcodeBadCookie || len(r.Answer) != 0 || len(fresh) != 48 {
		t.Fatalf("require: a client cookie alone got %v, want BADCOOKIE with a server cookie", r)
	}
	if r, _ := cookieQuery(t, a.udp, fresh); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("require: the retry with the server cookie got %v", r)
	}
}

package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const oneName = `
    names:
      - name: app
        endpoints: [{region: r1, addresses: [192.0.2.1]}]
`

func TestRRLOffUnlessConfigured(t *testing.T) {
	if c := mustParse(t, minimal+oneName); c.RRL != nil {
		t.Fatalf("RRL on without an rrl section: %+v", c.RRL)
	}
	if c := mustParse(t, minimal+oneName+"rrl:\n"); c.RRL != nil {
		t.Fatalf("RRL on for an empty rrl key: %+v", c.RRL)
	}
}

func TestRRLDefaults(t *testing.T) {
	c := mustParse(t, minimal+oneName+`
rrl:
  responses_per_second: 20
  exempt: ["192.0.2.0/24", "2001:db8::53", "::ffff:198.51.100.7", "::ffff:203.0.113.0/120"]
`)
	want := RRL{
		ResponsesPerSecond: 20, ErrorsPerSecond: 20, NXDomainsPerSecond: 20,
		Window: Duration(15 * time.Second), Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56,
		TableSize: 1 << 17,
		Exempt:    []string{"192.0.2.0/24", "2001:db8::53", "::ffff:198.51.100.7", "::ffff:203.0.113.0/120"},
		ExemptPrefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"),
			netip.MustParsePrefix("2001:db8::53/128"), netip.MustParsePrefix("198.51.100.7/32"),
			netip.MustParsePrefix("203.0.113.0/24")},
	}
	if !reflect.DeepEqual(*c.RRL, want) {
		t.Fatalf("RRL = %+v\nwant  %+v", *c.RRL, want)
	}
}

// TestRRLZeroes: 0 is a real value for slip and the error/NXDOMAIN
// rates (drop all, no limit), not "use the default".
func TestRRLZeroes(t *testing.T) {
	c := mustParse(t, minimal+oneName+`
rrl:
  responses_per_second: 5
  errors_per_second: 0
  nxdomains_per_second: 0
  slip: 0
  window: 1s
  log_only: true
`)
	if r := c.RRL; r.ErrorsPerSecond != 0 || r.NXDomainsPerSecond != 0 || r.Slip != 0 || r.Window.D() != time.Second || !r.LogOnly {
		t.Fatalf("RRL = %+v", *r)
	}
}

func TestCookieSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cookie.secrets")
	if err := os.WriteFile(file, []byte("# rotated 2026-01-01\n\n00112233445566778899AABBCCDDEEFF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, minimal+oneName+`
cookies:
  secrets: ["ffeeddccbbaa99887766554433221100"]
  secret_file: `+file+"\n")
	got := c.Cookies.SecretBytes()
	if len(got) != 2 || got[0][0] != 0xff || got[1][0] != 0x00 || got[1][15] != 0xff {
		t.Fatalf("secrets = %x", got)
	}
	if len(mustParse(t, minimal+oneName).Cookies.SecretBytes()) != 0 {
		t.Fatal("secrets without a cookies section")
	}
	if c.Cookies.Require || !mustParse(t, minimal+oneName+"cookies: {require: true}\n").Cookies.Require {
		t.Fatal("cookies.require: default false, true when set")
	}

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# nothing yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := parseErr(t, minimal+oneName+"cookies: {secret_file: "+empty+"}\n")
	if len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, "holds no secrets") {
		t.Fatalf("problems: %v", e)
	}
}

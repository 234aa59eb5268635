package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// minimal is the smallest valid config; tests append to it.
const minimal = `
regions:
  - {name: r1, latitude: 1, longitude: 2}
zones:
  - apex: example.test
    nameservers: [{name: ns1.example.net.}]
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Prepare([]byte(src), "test.yaml")
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return c
}

func parseErr(t *testing.T, src string) *Error {
	t.Helper()
	_, err := Prepare([]byte(src), "test.yaml")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	return ce
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal+`
    names:
      - name: app
        endpoints:
          - region: r1
            addresses: [192.0.2.1]
            liveness: {url: "http://127.0.0.1:1/"}
            readiness: {type: http_json, url: "http://127.0.0.1:1/", field: lag}
          - region: r1
            name: second
            addresses: [192.0.2.2]
            readiness: {dsn: "host=x"}
      - name: db
        role: write
        endpoints: [{region: r1, addresses: [192.0.2.3]}]
`)
	host, _ := os.Hostname()
	if host == "" {
		host = "gslbd"
	}
	if c.Node != host {
		t.Errorf("Node %q, want host name %q", c.Node, host)
	}
	l := c.Listen
	if !reflect.DeepEqual(l.DNS, []string{"127.0.0.1:5353"}) || l.HTTP != "127.0.0.1:8053" ||
		l.UDPSize != 1232 || l.TCPIdleTimeout.D() != 10*time.Second {
		t.Errorf("listen defaults: %+v", l)
	}
	h := c.Health
	if h.Interval.D() != 5*time.Second || h.Timeout.D() != 2*time.Second || h.Rise != 2 || h.Fall != 3 ||
		h.MaxLag.D() != 10*time.Second || h.Hold.D() != 30*time.Second {
		t.Errorf("health defaults: %+v", h)
	}
	z := c.Zones[0]
	if z.Apex != "example.test." || z.TTL.D() != 300*time.Second {
		t.Errorf("zone: %q %v", z.Apex, z.TTL)
	}
	wantSOA := SOA{MName: "ns1.example.net.", RName: "hostmaster.example.test.", Serial: 1,
		Refresh: Duration(time.Hour), Retry: Duration(10 * time.Minute), Expire: Duration(168 * time.Hour),
		Minimum: Duration(60 * time.Second), TTL: Duration(300 * time.Second)}
	if z.SOA != wantSOA {
		t.Errorf("SOA %+v, want %+v", z.SOA, wantSOA)
	}
	app := z.Names[0]
	if app.Name != "app.example.test." || app.Policy != "nearest" || app.TTL.D() != 30*time.Second ||
		app.MinTTL.D() != 5*time.Second || app.Answers != 1 || app.Role != "read" ||
		app.Failback != "manual" || app.FailbackHold.D() != 60*time.Second || app.AllDown != "open" {
		t.Errorf("name defaults: %+v", app)
	}
	e := app.Endpoints[0]
	if e.Name != "r1" || e.ID != "r1@app.example.test" || e.Weight == nil || *e.Weight != 1 {
		t.Errorf("endpoint defaults: name %q id %q weight %v", e.Name, e.ID, e.Weight)
	}
	wantProbe := Probe{Type: "http", URL: "http://127.0.0.1:1/", Method: "GET",
		Interval: Duration(5 * time.Second), Timeout: Duration(2 * time.Second), Rise: 2, Fall: 3,
		FastInterval: Duration(1250 * time.Millisecond)} // a quarter of the interval
	if !reflect.DeepEqual(*e.Liveness, wantProbe) {
		t.Errorf("probe %+v, want %+v", *e.Liveness, wantProbe)
	}
	r := e.Readiness
	if r.MaxLag.D() != 10*time.Second || r.Hold.D() != 30*time.Second || r.Interval != e.Liveness.Interval || r.Timeout != e.Liveness.Timeout {
		t.Errorf("readiness defaults: %+v", r)
	}
	if r2 := app.Endpoints[1].Readiness; r2.Type != "postgres" || r2.Interval.D() != 5*time.Second {
		t.Errorf("readiness without liveness: %+v", r2)
	}
	db := z.Names[1]
	if db.Policy != "failover" || !reflect.DeepEqual(db.Order, []string{"r1"}) {
		t.Errorf("write name: policy %q order %v", db.Policy, db.Order)
	}
	cl := c.Cluster
	if cl.Quorum != "majority" || cl.Expect != 1 || cl.Refresh.D() != 5*time.Second ||
		cl.StaleAfter.D() != 15*time.Second || cl.IsolationHold.D() != 5*time.Minute {
		t.Errorf("cluster defaults: %+v", cl)
	}
}

func TestDefaultsDerived(t *testing.T) {
	c := mustParse(t, `
health: {interval: 2s}
cluster:
  bind: 127.0.0.1:0
  seeds: [a.example:7946, 192.0.2.1:7946]
  keys: ["`+testKey+`"]
regions:
  - {name: r1, latitude: 1, longitude: 2}
zones:
  - apex: example.test
    ttl: 60
    nameservers: [{name: ns1.example.net.}]
    soa: {ttl: 10s}
    records:
      - {name: www, type: A, value: 192.0.2.1}
    names:
      - name: app
        ttl: 3s
        endpoints:
          - region: r1
            addresses: [192.0.2.1]
            liveness: {address: "127.0.0.1:1", interval: 600ms}
            readiness: {metric: lag_seconds, url: "http://127.0.0.1:1/metrics", interval: 7s}
`)
	z := c.Zones[0]
	if z.Records[0].TTL.D() != time.Minute || z.SOA.TTL.D() != 10*time.Second {
		t.Errorf("record TTL %v SOA TTL %v", z.Records[0].TTL, z.SOA.TTL)
	}
	n := z.Names[0]
	if n.MinTTL.D() != 3*time.Second {
		t.Errorf("min_ttl should default to a ttl below 5s, got %v", n.MinTTL)
	}
	p := n.Endpoints[0].Liveness
	if p.Type != "tcp" || p.Timeout.D() != 300*time.Millisecond {
		t.Errorf("tcp probe type %q timeout %v (want half the 600ms interval)", p.Type, p.Timeout)
	}
	if r := n.Endpoints[0].Readiness; r.Type != "prometheus" || r.Timeout.D() != 300*time.Millisecond {
		t.Errorf("readiness %+v", r)
	}
	cl := c.Cluster
	if cl.Expect != 3 || cl.Advertise != "127.0.0.1:0" || cl.Refresh.D() != 7*time.Second || cl.StaleAfter.D() != 21*time.Second {
		t.Errorf("cluster %+v", cl)
	}
	if cl.Rule.Kind != "majority" {
		t.Errorf("quorum rule %+v", cl.Rule)
	}
	if k := cl.Secrets; len(k) != 1 || len(k[0]) != 32 {
		t.Errorf("Secrets %v", k)
	}
}

const testKey = "ONl+pNYnqqGHlNTUKjLv1YrEc/kLiatZLX40uMbbIus="

func TestQuorumRule(t *testing.T) {
	for _, tc := range []struct {
		in, kind string
		f        float64
	}{{"", "majority", 0}, {"ALL", "all", 0}, {"any", "any", 0}, {"0.5", "fraction", 0.5}, {"1", "fraction", 1}} {
		c := mustParse(t, minimal+"cluster: {quorum: \""+tc.in+"\"}\n")
		if r := c.Cluster.Rule; r.Kind != tc.kind || r.Fraction != tc.f {
			t.Errorf("quorum %q: got %q %v, want %q %v", tc.in, r.Kind, r.Fraction, tc.kind, tc.f)
		}
	}
	for _, bad := range []string{"0", "-0.5", "1.01", "NaN", "half"} {
		e := parseErr(t, minimal+"cluster: {quorum: \""+bad+"\"}\n")
		if len(e.Problems) != 1 || e.Problems[0].Path != "cluster.quorum" {
			t.Errorf("quorum %q: %v", bad, e)
		}
	}
}

func TestDurationParse(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
	}{
		{`1s`, time.Second},
		{`"500ms"`, 500 * time.Millisecond},
		{`5`, 5 * time.Second},
		{`"5"`, 5 * time.Second},
		{`0.25`, 250 * time.Millisecond},
		{`1m30s`, 90 * time.Second},
		{`168h`, 168 * time.Hour},
	} {
		c := mustParse(t, minimal+"health: {interval: "+tc.yaml+", timeout: 1ms}\n")
		if got := c.Health.Interval.D(); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.yaml, got, tc.want)
		}
		// The same rules through yaml.v3's own decoder (UnmarshalYAML).
		var v struct {
			D Duration `yaml:"d"`
		}
		if err := yaml.Unmarshal([]byte("d: "+tc.yaml), &v); err != nil || v.D.D() != tc.want {
			t.Errorf("yaml.Unmarshal %s: got %v, %v; want %v", tc.yaml, v.D, err, tc.want)
		}
		var d Duration
		if err := d.UnmarshalText([]byte(strings.Trim(tc.yaml, `"`))); err != nil || d.D() != tc.want {
			t.Errorf("UnmarshalText %s: got %v, %v", tc.yaml, d, err)
		}
		text, _ := d.MarshalText()
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Errorf("round trip %s: %q -> %v, %v", tc.yaml, text, back, err)
		}
	}
	for _, bad := range []string{`soon`, `""`, `1x`, `1e300`, `[1]`} {
		e := parseErr(t, minimal+"health: {interval: "+bad+"}\n")
		if len(e.Problems) != 1 || e.Problems[0].Path != "health.interval" || e.Problems[0].Line == 0 {
			t.Errorf("%s: %v", bad, e)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("abc")); err == nil {
		t.Error("UnmarshalText accepted abc")
	}
}

func TestNameNormalisation(t *testing.T) {
	c := mustParse(t, `
regions:
  - {name: r1, latitude: 1, longitude: 2}
zones:
  - apex: GSLB.Example.TEST
    nameservers:
      - {name: NS1, addresses: ["2001:DB8::53"]}
      - {name: ns.Other.NET.}
    soa: {rname: Ops@Example.TEST, mname: NS1}
    records:
      - {name: "@", type: MX, value: "10 Mail"}
      - {name: WWW, type: CNAME, value: "Web.Example.NET."}
      - {name: abs.gslb.example.test., type: A, value: 192.0.2.1}
      - {name: _sip._TCP, type: SRV, value: "1 2 5060 sip"}
      - {name: sip, type: A, value: 192.0.2.2}
    names:
      - name: App
        endpoints: [{region: r1, addresses: ["2001:DB8:0:0::1", "192.0.2.9"]}]
      - name: Edge.GSLB.example.test.
        endpoints: [{name: cdn, region: r1, target: Edge.Cdn.NET}]
`)
	z := c.Zones[0]
	if z.Apex != "gslb.example.test." {
		t.Errorf("apex %q", z.Apex)
	}
	if z.Nameservers[0].Name != "ns1.gslb.example.test." || z.Nameservers[0].Addresses[0] != "2001:db8::53" ||
		z.Nameservers[1].Name != "ns.other.net." {
		t.Errorf("nameservers %+v", z.Nameservers)
	}
	if z.SOA.RName != "ops.example.test." || z.SOA.MName != "ns1.gslb.example.test." {
		t.Errorf("soa %+v", z.SOA)
	}
	wantNames := []string{"gslb.example.test.", "www.gslb.example.test.", "abs.gslb.example.test.", "_sip._tcp.gslb.example.test.", "sip.gslb.example.test."}
	for i, w := range wantNames {
		if z.Records[i].Name != w {
			t.Errorf("records[%d].name %q, want %q", i, z.Records[i].Name, w)
		}
	}
	if z.Records[0].Parsed.Target != "mail.gslb.example.test." || z.Records[1].Parsed.Target != "web.example.net." ||
		z.Records[3].Parsed.Target != "sip.gslb.example.test." {
		t.Errorf("targets %+v", z.Records)
	}
	app := z.Names[0]
	if app.Name != "app.gslb.example.test." || app.Endpoints[0].ID != "r1@app.gslb.example.test" ||
		!reflect.DeepEqual(app.Endpoints[0].Addresses, []string{"2001:db8::1", "192.0.2.9"}) {
		t.Errorf("app %+v", app)
	}
	edge := z.Names[1]
	if edge.Name != "edge.gslb.example.test." || edge.Endpoints[0].ID != "cdn@edge.gslb.example.test" ||
		edge.Endpoints[0].Target != "edge.cdn.net.gslb.example.test." {
		t.Errorf("edge %+v (a target without a dot is relative to the apex)", edge)
	}
}

func TestRData(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		typ, value string
		want       RData
		err        string
	}{
		{"A", "192.0.2.1", RData{Addr: "192.0.2.1"}, ""},
		{"A", "2001:db8::1", RData{}, "IPv4"},
		{"A", "::ffff:192.0.2.1", RData{}, "IPv4"},
		{"A", "1.2.3", RData{}, "invalid IP"},
		{"AAAA", "2001:DB8::0:1", RData{Addr: "2001:db8::1"}, ""},
		{"AAAA", "192.0.2.1", RData{}, "IPv6"},
		{"CNAME", "www", RData{Target: "www.example.test."}, ""},
		{"CNAME", "Host.Example.NET.", RData{Target: "host.example.net."}, ""},
		{"CNAME", "@", RData{Target: "example.test."}, ""},
		{"CNAME", ".", RData{}, "root"},
		{"NS", "ns.example.net.", RData{Target: "ns.example.net."}, ""},
		{"NS", "bad_name!", RData{}, "label"},
		{"TXT", "free text with spaces", RData{Text: []string{"free text with spaces"}}, ""},
		{"TXT", `"a b" "c\"d" "e\\f"`, RData{Text: []string{"a b", `c"d`, `e\f`}}, ""},
		{"TXT", `"\065\066"`, RData{Text: []string{"AB"}}, ""},
		{"TXT", `""`, RData{Text: []string{""}}, ""},
		{"TXT", "", RData{Text: []string{""}}, ""},
		{"TXT", long, RData{Text: []string{long[:255], long[255:]}}, ""},
		{"TXT", `"` + long + `"`, RData{Text: []string{long[:255], long[255:]}}, ""},
		{"TXT", `"open`, RData{}, "unterminated"},
		{"TXT", `"a" b`, RData{}, "another quoted"},
		{"TXT", `"\999"`, RData{}, "above 255"},
		{"MX", "10 mail", RData{Pref: 10, Target: "mail.example.test."}, ""},
		{"MX", "0 .", RData{Pref: 0, Target: "."}, ""},
		{"MX", "mail", RData{}, "PREFERENCE"},
		{"MX", "-1 mail", RData{}, "preference"},
		{"SRV", "1 2 443 svc.example.net.", RData{Priority: 1, Weight: 2, Port: 443, Target: "svc.example.net."}, ""},
		{"SRV", "1 2 70000 svc", RData{}, "port"},
		{"SRV", "1 2 svc", RData{}, "PRIORITY"},
		{"CAA", `0 issue "letsencrypt.org"`, RData{Flag: 0, Tag: "issue", CAAValue: "letsencrypt.org"}, ""},
		{"CAA", `128 IODEF "mailto:sec@example.test"`, RData{Flag: 128, Tag: "iodef", CAAValue: "mailto:sec@example.test"}, ""},
		{"CAA", "0\tissuewild\t;", RData{Tag: "issuewild", CAAValue: ";"}, ""},
		{"CAA", `0 issue "x" y`, RData{}, "after the quoted"},
		{"CAA", `256 issue "x"`, RData{}, "flags"},
		{"CAA", `0 is-sue "x"`, RData{}, "letters and digits"},
		{"CAA", `0 issue`, RData{}, "FLAGS TAG"},
		{"PTR", "x", RData{}, "unsupported"},
	} {
		got, err := parseRData(tc.typ, tc.value, "example.test.")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: error %v, want one containing %q", tc.typ, tc.value, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tc.typ, tc.value, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %q: got %+v, want %+v", tc.typ, tc.value, got, tc.want)
		}
	}
}

func TestSplitTextKeepsRunes(t *testing.T) {
	s := strings.Repeat("é", 200) // 400 bytes, 2 per rune
	parts := splitText(s, 255)
	if len(parts) != 2 || len(parts[0]) != 254 || parts[0]+parts[1] != s {
		t.Errorf("split into %d parts of %d bytes", len(parts), len(parts[0]))
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Source: "gslbd.yaml", Problems: []Problem{
		{Path: "zones[0].apex", Line: 3, Msg: "apex is required"},
		{Path: "regions", Msg: "at least one region is required"},
		{Line: 7, Msg: "YAML syntax error: x"},
	}}
	want := "gslbd.yaml:3: zones[0].apex: apex is required\n" +
		"gslbd.yaml: regions: at least one region is required\n" +
		"gslbd.yaml:7: YAML syntax error: x"
	if got := e.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := e.Problems[0].String(); got != "3: zones[0].apex: apex is required" {
		t.Errorf("Problem.String %q", got)
	}

	// Parse sorts by line, problems without a line last.
	pe := parseErr(t, `
zones: []
regions:
  - {name: r1, latitude: 100, longitude: 2}
bogus: 1
`)
	lines := strings.Split(pe.Error(), "\n")
	want2 := []string{
		"test.yaml:2: zones: at least one zone is required",
		"test.yaml:4: regions[0].latitude: latitude 100 is outside -90..90",
		`test.yaml:5: bogus: unknown key "bogus"`,
	}
	if len(lines) != len(want2) {
		t.Fatalf("got %d lines:\n%s", len(lines), pe)
	}
	for i := range want2 {
		if !strings.HasPrefix(lines[i], want2[i]) {
			t.Errorf("line %d: %q, want prefix %q", i, lines[i], want2[i])
		}
	}
	if (&Error{}).Error() == "" {
		t.Error("empty Error() must still say something")
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "keys")
	if err := os.WriteFile(good, []byte("# primary first\n"+testKey+"\n\n"+testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, minimal+"cluster: {bind: '127.0.0.1:0', seeds: ['127.0.0.1:1'], keys: ['"+testKey+"'], key_file: '"+good+"'}\n")
	if len(c.Cluster.Keys) != 3 || len(c.Cluster.Secrets) != 1 {
		t.Errorf("keys %v, %d secrets: want the key plus two from the file, one distinct", c.Cluster.Keys, len(c.Cluster.Secrets))
	}

	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte(testKey+"\nc2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := parseErr(t, minimal+"cluster: {key_file: '"+bad+"'}\n")
	if len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, "line 2") {
		t.Errorf("bad key file: %v", e)
	}

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e = parseErr(t, minimal+"cluster: {key_file: '"+empty+"', expect: 2}\n")
	if len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, "holds no keys") {
		t.Errorf("empty key file with expect 2: want just 'holds no keys', got %v", e)
	}
}

func TestSameInputSameHash(t *testing.T) {
	a := mustParse(t, minimal)
	b := mustParse(t, minimal)
	c := mustParse(t, minimal+"\n# comment\n")
	if a.Hash != b.Hash || a.Hash == c.Hash {
		t.Errorf("hashes %s %s %s", a.Hash, b.Hash, c.Hash)
	}
}

func TestHTTPDisabled(t *testing.T) {
	if c := mustParse(t, minimal+"listen: {http: \"\"}\n"); c.Listen.HTTP != "" {
		t.Errorf("explicit empty http should disable it, got %q", c.Listen.HTTP)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	c := mustParse(t, `
regions:
  - {name: r1, latitude: 1, longitude: 2}
zones:
  - apex: example.test
    nameservers: [{name: ns1.example.net.}]
    names:
      - name: a
        endpoints:
          - region: r1
            addresses: [192.0.2.1]
            liveness: &probe {url: "http://127.0.0.1:1/", interval: 3s, rise: 4}
      - name: b
        endpoints:
          - region: r1
            addresses: [192.0.2.2]
            liveness:
              <<: *probe
              rise: 5
`)
	a, b := c.Zones[0].Names[0].Endpoints[0].Liveness, c.Zones[0].Names[1].Endpoints[0].Liveness
	if a.Interval.D() != 3*time.Second || a.Rise != 4 || b.Interval.D() != 3*time.Second || b.Rise != 5 || b.URL != a.URL {
		t.Errorf("a %+v b %+v", a, b)
	}
	e := parseErr(t, minimal+"health: *nope\n")
	if len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, "alias") {
		t.Errorf("unknown alias: %v", e)
	}
}

func TestAliasBomb(t *testing.T) {
	// Ten levels of ten-way merges: 10^10 values if expanded naively.
	src := "templates:\n  a: &a {rise: 2}\n"
	for c := 'b'; c <= 'j'; c++ {
		prev := "*" + string(c-1)
		src += "  " + string(c) + ": &" + string(c) + " {<<: [" + strings.TrimSuffix(strings.Repeat(prev+", ", 10), ", ") + "]}\n"
	}
	src += "health: {<<: [*j, *j, *j, *j, *j, *j, *j, *j, *j, *j]}\n"
	done := make(chan error, 1)
	go func() {
		_, err := Parse([]byte(src), "bomb.yaml")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
			t.Errorf("got %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("alias expansion did not stop")
	}
}

func TestManyProblemsCapped(t *testing.T) {
	src := "regions:\n" + strings.Repeat("  - {name: r, latitude: 100, longitude: 200}\n", 500)
	e := parseErr(t, src)
	if len(e.Problems) != maxProblems+1 || !strings.Contains(e.Problems[maxProblems].Msg, "more problems") {
		t.Errorf("got %d problems", len(e.Problems))
	}
}

func TestDuplicateKeys(t *testing.T) {
	e := parseErr(t, minimal+"node: a\nnode: b\n")
	found := false
	for _, p := range e.Problems {
		// The parser keeps duplicate keys; the decoder reports the
		// second one at its line.
		if p.Line == 8 && strings.Contains(p.Msg, "duplicate key") {
			found = true
		}
	}
	if !found {
		t.Errorf("duplicate key not reported: %v", e)
	}
}

func TestMultipleDocuments(t *testing.T) {
	e := parseErr(t, minimal+"---\n"+minimal)
	if !strings.Contains(e.Error(), "YAML documents") {
		t.Errorf("got %v", e)
	}
}

func TestAllEndpointsAndRegion(t *testing.T) {
	c, err := Load("../configs/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range c.AllEndpoints() {
		ids = append(ids, e.ID)
	}
	want := []string{
		"us-east@app.gslb.test", "eu-west@app.gslb.test", "ap-southeast@app.gslb.test",
		"us-east@db.gslb.test", "eu-west@db.gslb.test", "ap-southeast@db.gslb.test",
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v", ids)
	}
	if r, ok := c.Region("eu-west"); !ok || r.Latitude != 53.3 || r.Continent != "EU" {
		t.Errorf("Region(eu-west) = %+v, %v", r, ok)
	}
	if _, ok := c.Region("mars"); ok {
		t.Error("Region(mars) found")
	}
	// The dev timings the lead's simulated backends rely on.
	e := c.AllEndpoints()[1]
	if e.Liveness.URL != "http://127.0.0.1:18082/healthz" || e.Liveness.Interval.D() != time.Second ||
		e.Liveness.Timeout.D() != 500*time.Millisecond || e.Liveness.Fall != 2 ||
		e.Readiness.Field != "replication.lag_seconds" || e.Readiness.MaxLag.D() != 2*time.Second ||
		e.Readiness.Hold.D() != 5*time.Second {
		t.Errorf("dev eu-west endpoint: %+v %+v", e.Liveness, e.Readiness)
	}
	db := c.Zones[0].Names[1]
	if db.Role != "write" || db.Failback != "manual" || !reflect.DeepEqual(db.Order, []string{"us-east", "eu-west", "ap-southeast"}) {
		t.Errorf("dev db: %+v", db)
	}
	if c.MaxProbeInterval().D() != time.Second || c.VersionBind != "" || len(c.GeoIP.Databases) != 0 {
		t.Errorf("dev: max interval %v version_bind %q geoip %v", c.MaxProbeInterval(), c.VersionBind, c.GeoIP.Databases)
	}
}

func TestCIDRRegionFillsPlace(t *testing.T) {
	c := mustParse(t, `
regions:
  - {name: r1, latitude: 10, longitude: 20, continent: eu}
geoip:
  cidr_map:
    - {network: 10.0.0.0/8, region: r1}
    - {network: "2001:db8::/32", latitude: 1, longitude: 2, country: de}
zones:
  - apex: example.test
    nameservers: [{name: ns1.example.net.}]
`)
	e := c.GeoIP.CIDRMap[0]
	if e.Latitude == nil || *e.Latitude != 10 || *e.Longitude != 20 || e.Continent != "EU" {
		t.Errorf("cidr entry %+v", e)
	}
	if c.GeoIP.CIDRMap[1].Country != "DE" {
		t.Errorf("country not upper-cased: %+v", c.GeoIP.CIDRMap[1])
	}
}

// FuzzParse checks that no input makes Parse panic, and that an accepted
// config parses again to the same result.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	more, _ := filepath.Glob("../configs/*.yaml")
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("[1, 2"))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		if c == nil || c.Hash == "" {
			t.Fatal("nil config without error")
		}
	})
}

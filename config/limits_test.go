package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDeepNestingRefusedBeforeParsing: a 34 KB file of nested flow
// sequences made the YAML parser allocate 442 MB; block nesting is bounded
// the same way. Each is refused with one clear problem, cheaply.
func TestDeepNestingRefusedBeforeParsing(t *testing.T) {
	var block strings.Builder
	for i := range 200 {
		fmt.Fprintf(&block, "%sk%d:\n", strings.Repeat("  ", i), i)
	}
	for name, src := range map[string]string{
		"flow":     "regions: " + strings.Repeat("[", 17000) + strings.Repeat("]", 17000) + "\n",
		"block":    block.String(),
		"sequence": strings.Repeat("- ", 200) + "x\n",
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = Parse([]byte(src), "deep.yaml") })
			e, ok := err.(*Error)
			if !ok || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, "nesting deeper than 64 levels") {
				t.Fatalf("got %v", err)
			}
			if n > 16<<20 {
				t.Errorf("refusing a %d-byte file allocated %d MB", len(src), n>>20)
			}
		})
	}
	// Real configs nest far less than the limit.
	if _, err := Load("../configs/dev.yaml"); err != nil {
		t.Fatal(err)
	}
}

// TestFileSizeLimit refuses a file over MaxFileSize before reading it
// (a sparse file: nothing is written) and bytes over it before parsing.
func TestFileSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Fatalf("Load: %v", err)
	}
	_, err = Parse(make([]byte, MaxFileSize+1), "huge.yaml")
	if e, ok := err.(*Error); !ok || len(e.Problems) != 1 || !strings.Contains(e.Error(), "the limit is") {
		t.Fatalf("Parse: %v", err)
	}
}

func TestUTF8BOMAccepted(t *testing.T) {
	c, err := Parse(append([]byte{0xEF, 0xBB, 0xBF}, minimal...), "bom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Zones) != 1 || len(c.Regions) == 0 {
		t.Errorf("decoded %+v", c)
	}
}

// endpointWith is minimal plus one GSLB name whose one endpoint has the
// given extra fields.
func endpointWith(fields string) string {
	return minimal + `
    names:
      - name: app
        endpoints:
          - {region: r1, addresses: [192.0.2.1]` + fields + `}
`
}

// TestValueLimits: each value was accepted before and is refused now,
// with a problem at its path.
func TestValueLimits(t *testing.T) {
	long := strings.Repeat("a", 256)
	var txt strings.Builder
	txt.WriteString(minimal + "    records:\n")
	for i := range 300 {
		fmt.Fprintf(&txt, "      - {name: big, type: TXT, value: \"%03d%s\"}\n", i, strings.Repeat("x", 250))
	}
	var many strings.Builder
	many.WriteString(minimal + "    names:\n      - name: app\n        endpoints:\n          - region: r1\n            addresses:\n")
	for i := range 5000 {
		fmt.Fprintf(&many, "              - 10.%d.%d.1\n", i/256, i%256)
	}
	for _, tc := range []struct{ name, src, path, msg string }{
		{"udp_size above 4096", minimal + "listen: {udp_size: 4097}\n", "listen.udp_size", "from 512 to 4096"},
		{"tcp idle timeout unbounded", minimal + "listen: {tcp_idle_timeout: 1h}\n", "listen.tcp_idle_timeout", "at most 10m0s"},
		{"probe interval below 100ms", endpointWith(`, liveness: {address: "127.0.0.1:80", interval: 50ms}`),
			"zones[0].names[0].endpoints[0].liveness.interval", "at least 100ms"},
		{"health interval below 100ms", minimal + "health: {interval: 10ms}\n", "health.interval", "at least 100ms"},
		{"weight overflow", endpointWith(", weight: 9223372036854775807"), "zones[0].names[0].endpoints[0].weight", "from 0 to 1000000"},
		{"probe url port 99999", endpointWith(`, liveness: {url: "http://127.0.0.1:99999/"}`),
			"zones[0].names[0].endpoints[0].liveness.url", `port "99999"`},
		{"tcp probe port 99999", endpointWith(`, liveness: {address: "127.0.0.1:99999"}`),
			"zones[0].names[0].endpoints[0].liveness.address", "from 0 to 65535"},
		{"readiness url port 0", endpointWith(`, readiness: {type: http_json, url: "http://127.0.0.1:0/", field: lag}`),
			"zones[0].names[0].endpoints[0].readiness.url", `port "0"`},
		{"node name too long", minimal + "node: " + long + "\n", "node", "at most 255"},
		{"region name too long", strings.Replace(minimal, "name: r1,", "name: "+long+",", 1), "regions[0].name", "at most 255"},
		{"endpoint ID too long", endpointWith(", name: " + strings.Repeat("e", 520)), "zones[0].names[0].endpoints[0].name", "at most 512"},
		{"TXT RRset over 64 KB", txt.String(), "zones[0].records[0]", "at most 65535 fit in one message"},
		{"addresses over 64 KB", many.String(), "zones[0].names[0].endpoints", "at most 65535 fit in one message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := parseErr(t, tc.src)
			found := false
			for _, p := range e.Problems {
				found = found || p.Path == tc.path && strings.Contains(p.Msg, tc.msg)
			}
			if !found {
				t.Errorf("want a problem at %s with %q, got:\n%v", tc.path, tc.msg, e)
			}
		})
	}
}

// TestSecretsNeverEchoed: a config error about a gossip key or an admin
// token never repeats the secret, since errors go to logs.
func TestSecretsNeverEchoed(t *testing.T) {
	const secret = "Zm9vYmFyYmF6cXV4cXV1eHNlY3JldHNlY3JldDEy" // base64, 30 bytes
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys")
	if err := os.WriteFile(keyFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(secret[:10]), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		minimal + "cluster: {keys: [" + secret + "]}\n",
		minimal + "cluster: {keys: [\"" + secret + "!\"]}\n",
		minimal + "cluster: {keys: {" + secret + ": 1}}\n",
		minimal + "cluster: {keys: [[" + secret + "]]}\n",
		minimal + "cluster: {key_file: " + keyFile + "}\n",
		minimal + "admin: {token: " + secret[:10] + "}\n",
		minimal + "admin: {token: [" + secret + "]}\n",
		minimal + "admin: {token: {" + secret + ": 1}}\n",
		minimal + "admin: {token_file: " + tokenFile + "}\n",
		minimal + "admin: {token: " + secret + ", token_file: " + tokenFile + "}\n",
	} {
		_, err := Prepare([]byte(src), "secret.yaml")
		if err == nil {
			t.Errorf("accepted:\n%s", src)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, secret[:10]) {
			t.Errorf("error echoes the secret:\n%s", msg)
		}
	}
}

// TestLargeZoneDecodes: 30,000 static records used to fail with a
// misleading "after expanding aliases" error; plain values are bounded
// by the file size, not counted as alias expansion.
func TestLargeZoneDecodes(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal + "    records:\n")
	for i := range 30000 {
		fmt.Fprintf(&b, "      - {name: h%d, type: A, value: 10.%d.%d.%d}\n", i, i>>16, (i>>8)&255, i&255)
	}
	c, err := Parse([]byte(b.String()), "large.yaml")
	if err != nil {
		t.Fatalf("%.500v", err)
	}
	if len(c.Zones[0].Records) != 30000 {
		t.Fatalf("%d records", len(c.Zones[0].Records))
	}
}

const hundredK = 100000

// TestHundredThousandNames generates a ~20 MB file of 100,000 GSLB names
// and decodes it.
func TestHundredThousandNames(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("20 MB config: skipped with -short and under the race detector (make clone-test runs it)")
	}
	var b strings.Builder
	b.WriteString(minimal + "    names:\n")
	for i := range hundredK {
		hi, mid, lo := i>>16, (i>>8)&255, i&255
		fmt.Fprintf(&b, "      - name: name-%06d\n        policy: nearest\n        ttl: 30s\n        endpoints:\n"+
			"          - {name: primary-endpoint, region: r1, addresses: [10.%d.%d.%d, \"2001:db8:%x::%x\"]}\n"+
			"          - {name: second-endpoint, region: r1, addresses: [11.%d.%d.%d]}\n",
			i, hi, mid, lo, hi, i&0xffff, hi, mid, lo)
	}
	if b.Len() < hundredK*180 {
		t.Fatalf("generated only %d bytes", b.Len())
	}
	start := time.Now()
	c, err := Parse([]byte(b.String()), "names.yaml")
	if err != nil {
		t.Fatalf("%.500v", err)
	}
	if len(c.Zones[0].Names) != hundredK {
		t.Fatalf("%d names", len(c.Zones[0].Names))
	}
	t.Logf("%d MB, %d names decoded in %s", b.Len()>>20, len(c.Zones[0].Names), time.Since(start))
}

// TestAliasBombOneProblem: when the alias budget runs out, that is the
// one problem reported, with no follow-on validation noise, even though
// every anchor sits where the schema allows it.
func TestAliasBombOneProblem(t *testing.T) {
	var b strings.Builder
	b.WriteString("regions:\n  - &l0 {name: r0, latitude: 1, longitude: 2}\n")
	for i := 1; i <= 9; i++ {
		prev := fmt.Sprintf("*l%d, ", i-1)
		fmt.Fprintf(&b, "  - &l%d {<<: [%s]}\n", i, strings.TrimSuffix(strings.Repeat(prev, 10), ", "))
	}
	done := make(chan error, 1)
	go func() {
		_, err := Parse([]byte(b.String()), "bomb.yaml")
		done <- err
	}()
	select {
	case err := <-done:
		e, ok := err.(*Error)
		if !ok || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, "aliases expand to more than") {
			t.Fatalf("want exactly the alias problem, got:\n%v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("alias expansion did not stop")
	}
}

// TestValueFloodRefusedBeforeParsing: 16 MB of "1," would be eight
// million parsed values taking gigabytes; it is refused with one problem
// before the parser runs, while bench/scale.sh's 100k names (4.8 million
// by the same count) are not.
func TestValueFloodRefusedBeforeParsing(t *testing.T) {
	src := "regions: [" + strings.Repeat("1,", maxValues) + "1]\n"
	var err error
	n := allocated(func() { _, err = Parse([]byte(src), "flood.yaml") })
	e, ok := err.(*Error)
	if !ok || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, "values; the limit is") {
		t.Fatalf("got %.300v", err)
	}
	if n > 64<<20 {
		t.Errorf("refusing a %d MB file allocated %d MB", len(src)>>20, n>>20)
	}
	if _, _, values := nesting(scaleConfig(hundredK)); values > maxValues*2/3 {
		t.Errorf("100k scale names count %d values, too close to the limit %d", values, maxValues)
	}
}

// TestWrongValuesStopDecoding: a long list of wrong values stops the
// decode at maxProblems, with one last line saying so, instead of
// building a message (and validating) for every one.
func TestWrongValuesStopDecoding(t *testing.T) {
	src := "regions: [" + strings.Repeat("1,", 100_000) + "1]\nzones: []\n"
	e := parseErr(t, src)
	last := e.Problems[len(e.Problems)-1]
	if len(e.Problems) != maxProblems+1 || !strings.Contains(last.Msg, "decoding stopped after the first 200") {
		t.Fatalf("got %d problems, last %q", len(e.Problems), last.Msg)
	}
	if p := e.Problems[0]; p.Path != "regions[0]" || !strings.Contains(p.Msg, "want a mapping") {
		t.Errorf("first problem %v", p)
	}
}

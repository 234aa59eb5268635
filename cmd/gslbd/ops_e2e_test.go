package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslbd/gslbd/dashboard"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/hooks"
)

// hookSink is a local webhook receiver that checks each delivery's
// signature and keeps the events with their arrival time.
type hookSink struct {
	t      testing.TB
	secret []byte
	mu     sync.Mutex
	got    []sunkEvent
	srv    *httptest.Server
}

type sunkEvent struct {
	gslb.Change
	received time.Time
	key      string
}

func newHookSink(t testing.TB, secret string) *hookSink {
	s := &hookSink{t: t, secret: []byte(secret)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		if !hooks.Verify(s.secret, body, r.Header.Get(hooks.HeaderSignature)) {
			t.Errorf("webhook signature %q does not verify for %s", r.Header.Get(hooks.HeaderSignature), body)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var c gslb.Change
		if err := json.Unmarshal(body, &c); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
			return
		}
		s.mu.Lock()
		s.got = append(s.got, sunkEvent{Change: c, received: now, key: r.Header.Get(hooks.HeaderIdempotencyKey)})
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *hookSink) events(kind string) []sunkEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sunkEvent
	for _, e := range s.got {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// runCLI runs a gslbd admin subcommand with env added to its environment.
func runCLI(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(gslbdBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestRegionEvacuation is issue 14's region drain across three real
// processes: drained through the CLI on one node (token from a file),
// every node stops answering the region for every name; the drain
// survives a restart; a maintenance window set through the API starts
// and ends by itself; the undrain through the CLI on another node (token
// from the environment) restores the region. Hooks report the drain
// and the write name's move; the audit log records who did what.
func TestRegionEvacuation(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newBackend(t), newBackend(t)
	dir := t.TempDir()
	sink := newHookSink(t, "hook-secret")
	secretFile := filepath.Join(dir, "hook.secret")
	tokenFile := filepath.Join(dir, "token")
	for f, v := range map[string]string{secretFile: "hook-secret\n", tokenFile: testAdminToken + "\n"} {
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	nodes := startClusterWith(t, 3, b1, b2, func(i int) string {
		return fmt.Sprintf(`state_file: %[1]s/state-%[2]d.json
audit_log: {path: %[1]s/audit-%[2]d.jsonl}
hooks:
  - name: ops-webhook
    on: [region_drain, write_primary]
    webhook: {url: "%[3]s/hook", secret_file: %[4]s}
    timeout: 2s
    retries: 2
    backoff: 100ms
`, dir, i+1, sink.srv.URL, secretFile)
	})
	// Both names answer r1 everywhere (startClusterWith checked app).
	for _, nd := range nodes {
		waitFor(t, "db on r1", 30*time.Second, func() bool { return equalAddrs(nd.answersFor("db.gslb.test", ""), "192.0.2.11") })
	}

	// The evacuation, through the CLI against n1 with the token file.
	out, err := runCLI(t, nil, "drain", "-region", "r1", "-reason", "evacuate for kernel upgrade",
		"-api", "http://"+nodes[0].http, "-token-file", tokenFile)
	if err != nil || !strings.Contains(out, "region r1: drained") || !strings.Contains(out, "r1@app.gslb.test") || !strings.Contains(out, "r1@db.gslb.test") {
		t.Fatalf("gslbd drain: %v\n%s", err, out)
	}
	drained := time.Now()
	for _, nd := range nodes {
		waitFor(t, "app off r1 everywhere", 20*time.Second, func() bool { return equalAddrs(nd.answersFor("app.gslb.test", ""), "192.0.2.2") })
		waitFor(t, "db off r1 everywhere", 20*time.Second, func() bool { return equalAddrs(nd.answersFor("db.gslb.test", ""), "192.0.2.12") })
	}
	t.Logf("region drain: every node stopped answering r1 for both names %v after the CLI returned", time.Since(drained).Round(time.Millisecond))
	for _, nd := range nodes {
		if e := nd.endpoint("r1@db.gslb.test"); e.State != gslb.Drained || !strings.Contains(e.Reason, "evacuate for kernel upgrade") {
			t.Errorf("%s: r1@db is %s (%s), want drained with the operator's reason", nd.http, e.State, e.Reason)
		}
	}

	// The hook: one region_drain from n1, signed; write_primary for db
	// from the node(s) that moved it, with from/to and a lag field.
	waitFor(t, "region_drain hook", 10*time.Second, func() bool { return len(sink.events(gslb.ChangeRegionDrain)) > 0 })
	rd := sink.events(gslb.ChangeRegionDrain)
	if len(rd) != 1 || rd[0].Node != "n1" || rd[0].Region != "r1" || rd[0].To != "drained" || rd[0].Reason != "evacuate for kernel upgrade" || rd[0].key != rd[0].ID {
		t.Errorf("region_drain deliveries %+v", rd)
	}
	waitFor(t, "write_primary hook", 10*time.Second, func() bool { return len(sink.events(gslb.ChangeWritePrimary)) > 0 })
	for _, e := range sink.events(gslb.ChangeWritePrimary) {
		if e.Name != "db.gslb.test." || e.From != "r1" || e.To != "r2" || e.At.IsZero() {
			t.Errorf("write_primary delivery %+v", e)
		}
		t.Logf("hook latency: write_primary from %s decided at %s, received %v later", e.Node, e.At.Format(time.RFC3339Nano), e.received.Sub(e.At))
	}
	t.Logf("hook latency: region_drain received %v after the decision", rd[0].received.Sub(rd[0].At))

	// The drain survives a restart: n2 comes back with r1 drained.
	nodes[1] = nodes[1].restart()
	waitFor(t, "restarted n2 ready", 30*time.Second, func() bool { code, _ := nodes[1].get("/readyz"); return code == 200 })
	for range 10 {
		if got := nodes[1].answersFor("app.gslb.test", ""); !equalAddrs(got, "192.0.2.2") {
			t.Fatalf("restarted n2 answers app with %v; r1 is drained", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if e := nodes[1].endpoint("r1@app.gslb.test"); e.State != gslb.Drained {
		t.Fatalf("restarted n2: r1@app is %s, want drained", e.State)
	}

	// Undrain through the CLI against n3, token from the environment.
	out, err = runCLI(t, []string{tokenEnv + "=" + testAdminToken}, "undrain", "-region", "r1", "-api", "http://"+nodes[2].http)
	if err != nil || !strings.Contains(out, "region r1: undrained") {
		t.Fatalf("gslbd undrain: %v\n%s", err, out)
	}
	for _, nd := range nodes {
		waitFor(t, "app back on r1 everywhere", 20*time.Second, func() bool { return equalAddrs(nd.answersFor("app.gslb.test", ""), "192.0.2.1") })
	}
	// Failback of the write name stays manual: the drain moved it, the
	// undrain does not move it back.
	if got := nodes[0].answersFor("db.gslb.test", ""); !equalAddrs(got, "192.0.2.12") {
		t.Errorf("db answers %v after the undrain; failback is manual", got)
	}

	// A short maintenance window on r1, set on n2 through the API: it is
	// "scheduled" at first, then every node takes r1 out on its own and
	// puts it back on its own.
	from := time.Now().Add(2 * time.Second).UTC()
	until := from.Add(3 * time.Second)
	body := fmt.Sprintf(`{"reason":"window","from":%q,"until":%q}`, from.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano))
	if code := nodes[1].post("/api/v1/regions/r1/drain", testAdminToken, body); code != 200 {
		t.Fatalf("window: %d", code)
	}
	waitFor(t, "window gossiped as scheduled", 10*time.Second, func() bool {
		for _, d := range nodes[2].state().Drains {
			if d.Region == "r1" && d.Status == gslb.DrainScheduled && time.Now().Before(from) {
				return true
			}
		}
		return time.Now().After(from) // too late to see it scheduled: the next checks still hold
	})
	for _, nd := range nodes {
		waitFor(t, "window in effect everywhere", 20*time.Second, func() bool { return equalAddrs(nd.answersFor("app.gslb.test", ""), "192.0.2.2") })
	}
	if time.Now().Before(from) {
		t.Fatal("r1 left the answers before its window started")
	}
	for _, nd := range nodes {
		waitFor(t, "window over everywhere", 20*time.Second, func() bool { return equalAddrs(nd.answersFor("app.gslb.test", ""), "192.0.2.1") })
	}
	if time.Now().Before(until) {
		t.Fatal("r1 came back before its window ended")
	}

	// The audit log of n1 holds the CLI's drain, with who and the result;
	// `gslbd audit` prints it.
	out, err = runCLI(t, nil, "audit", "-api", "http://"+nodes[0].http, "-n", "50")
	if err != nil {
		t.Fatalf("gslbd audit: %v\n%s", err, out)
	}
	var sawDrain, sawPrimary bool
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var c gslb.Change
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		sawDrain = sawDrain || (c.Kind == gslb.ChangeAdmin && c.Who == "admin token" && c.Result == "ok" &&
			strings.HasPrefix(c.Action, "POST /api/v1/regions/r1/drain"))
		sawPrimary = sawPrimary || (c.Kind == gslb.ChangeWritePrimary && c.Name == "db.gslb.test." && c.To == "r2")
	}
	if !sawDrain || !sawPrimary {
		t.Errorf("audit of n1 lacks the drain (%v) or the write-primary change (%v):\n%s", sawDrain, sawPrimary, out)
	}
	lines, _ := os.ReadFile(filepath.Join(dir, "audit-1.jsonl"))
	if !strings.Contains(string(lines), `"action":"POST /api/v1/regions/r1/drain`) {
		t.Errorf("audit file lacks the drain:\n%s", lines)
	}

	// A wrong token is refused and the CLI says so.
	out, err = runCLI(t, []string{tokenEnv + "=nope"}, "drain", "-region", "r2", "-api", "http://"+nodes[0].http)
	if err == nil || !strings.Contains(out, "401") {
		t.Errorf("drain with a wrong token: %v\n%s", err, out)
	}
	if slices.ContainsFunc(nodes[0].state().Drains, func(d dashboard.DrainRow) bool { return d.Region == "r2" && d.Drained }) {
		t.Error("a refused drain was applied")
	}
}

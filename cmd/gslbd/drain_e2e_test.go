package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

// TestDrainSurvivesRestart: a drain taken through the API is kept in the
// state file, and a restarted node starts with the endpoint drained.
func TestDrainSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newBackend(t), newBackend(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	zone := twoRegions{url1: b1.srv.URL + "/healthz", url2: b2.srv.URL + "/healthz",
		health: "{interval: 500ms, timeout: 250ms, rise: 1, fall: 2}"}
	path := writeFile(t, filepath.Join(dir, "gslbd.yaml"),
		"node: drain-test\nstate_file: "+state+"\nadmin: {token: s3cret-drain-test-token}\n"+zone.yaml())
	const id = "r1@app.gslb.test"

	n := startNode(t, "-config", path)
	waitFor(t, "r1 answered", 20*time.Second, func() bool { return equalAddrs(n.answersFor("app.gslb.test", ""), "192.0.2.1") })
	if code := n.post("/api/v1/endpoints/"+id+"/drain", "wrong", ""); code != 401 {
		t.Fatalf("drain with a wrong token: %d, want 401", code)
	}
	if code := n.post("/api/v1/endpoints/"+id+"/drain", "s3cret-drain-test-token", ""); code != 200 {
		t.Fatalf("drain: %d", code)
	}
	waitFor(t, "r1 out of the answers", 10*time.Second, func() bool { return equalAddrs(n.answersFor("app.gslb.test", ""), "192.0.2.2") })
	waitFor(t, "state file written", 10*time.Second, func() bool {
		b, err := os.ReadFile(state)
		return err == nil && strings.Contains(string(b), id)
	})
	n.stop()

	n2 := startNode(t, "-config", path)
	// Before the first probe round the drain is already in force.
	if got := n2.endpoint(id).State; got != gslb.Drained && got != gslb.Unknown {
		t.Errorf("restarted node: %s is %s, want drained from the start", id, got)
	}
	waitFor(t, "r2 answered after restart", 20*time.Second, func() bool { return equalAddrs(n2.answersFor("app.gslb.test", ""), "192.0.2.2") })
	if got := n2.endpoint(id).State; got != gslb.Drained {
		t.Fatalf("after restart %s is %s, want drained", id, got)
	}
	if code := n2.post("/api/v1/endpoints/"+id+"/undrain", "s3cret-drain-test-token", ""); code != 200 {
		t.Fatalf("undrain: %d", code)
	}
	waitFor(t, "r1 back after undrain", 10*time.Second, func() bool { return equalAddrs(n2.answersFor("app.gslb.test", ""), "192.0.2.1") })
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

// TestReloadWithFIFODatabaseKeepsFailover is the regression test for a
// reload that froze the publisher: geoip.databases pointing at a FIFO
// (open blocks until a writer comes) plus SIGHUP. The reload must be
// refused with an error in /api/v1/state and the metrics, and failover
// must keep working throughout.
func TestReloadWithFIFODatabaseKeepsFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b := newBackend(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "city.mmdb")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gslbd.yaml")
	good := reloadConfig("192.0.2.80", b)
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "-config", path)
	const id = "r1@app.gslb.test"
	waitFor(t, "app ready", 30*time.Second, func() bool { return n.endpoint(id).State == gslb.Ready })

	if err := os.WriteFile(path, []byte("geoip: {databases: ["+fifo+"]}\n"+good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var reload struct {
		Result string   `json:"result"`
		Errors []string `json:"errors"`
	}
	waitFor(t, "reload refused", 30*time.Second, func() bool {
		_, body := n.get("/api/v1/state")
		var st struct {
			Reload json.RawMessage `json:"reload"`
		}
		if json.Unmarshal([]byte(body), &st) != nil || json.Unmarshal(st.Reload, &reload) != nil {
			return false
		}
		return reload.Result != ""
	})
	if reload.Result != "error" || !strings.Contains(strings.Join(reload.Errors, "\n"), "not a regular file") {
		t.Fatalf("reload status %+v", reload)
	}
	if _, body := n.get("/metrics"); !containsAll(body, `gslbd_config_reloads_total{result="error"} 1`, "gslbd_config_last_reload_successful 0") {
		t.Errorf("metrics do not agree with the reload status")
	}

	// Failover still works: the backend dies, the endpoint goes down.
	b.alive.Store(false)
	waitFor(t, "app down after the backend died", 30*time.Second, func() bool { return n.endpoint(id).State == gslb.Down })
}

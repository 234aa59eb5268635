package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/gslb"
)

func reloadConfig(www string, b *backend) string {
	return fmt.Sprintf(`node: reload-test
regions:
  - {name: r1, latitude: 39.0, longitude: -77.5, continent: NA}
health: {interval: 500ms, timeout: 250ms, rise: 1, fall: 2}
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    records:
      - {name: www, type: A, value: %s}
    names:
      - name: app
        endpoints:
          - {region: r1, addresses: [192.0.2.1], liveness: {url: "%s/healthz"}}
`, www, b.srv.URL)
}

const badConfig = `node: reload-test
zones:
  - apex: gslb.test.
    bogus_key: 1
`

// TestReloadUnderLoad reloads the config 20 times (good and bad files
// mixed) while a client queries without pause: no query may fail, bad
// files change nothing, and the probe state of the unchanged endpoint
// survives every reload.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b := newBackend(t)
	path := filepath.Join(t.TempDir(), "gslbd.yaml")
	write := func(s string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig("192.0.2.80", b))
	n := startNode(t, "-config", path)
	waitFor(t, "app ready", 30*time.Second, func() bool {
		return n.endpoint("r1@app.gslb.test").State == gslb.Ready
	})
	since := n.endpoint("r1@app.gslb.test").Since

	var sent, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200000; i++ { // bounded; stopped far sooner
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				r, err := n.query("www.gslb.test", mdns.TypeA, "")
				if err == nil && (r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1) {
					err = fmt.Errorf("rcode %s, %d answers", mdns.RcodeToString[r.Rcode], len(r.Answer))
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}

	current := "192.0.2.80"
	for i := range 20 {
		if i%3 == 2 {
			write(badConfig)
		} else {
			current = fmt.Sprintf("192.0.2.%d", 100+i)
			write(reloadConfig(current, b))
		}
		if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		want := current
		waitFor(t, "www to answer "+want, 10*time.Second, func() bool {
			return equalAddrs(n.answersFor("www.gslb.test", ""), want)
		})
	}
	close(stop)
	wg.Wait()

	if f := failed.Load(); f > 0 {
		t.Errorf("%d of %d queries failed during reloads; first: %v", f, sent.Load(), firstErr.Load())
	}
	t.Logf("%d queries answered during 20 reloads", sent.Load())
	if got := n.endpoint("r1@app.gslb.test").Since; since == nil || got == nil || !got.Equal(*since) {
		t.Errorf("probe state of an unchanged endpoint was reset by reload: since %v -> %v", since, got)
	}
	if _, body := n.get("/metrics"); !containsAll(body, `gslbd_config_reloads_total{result="error"}`, `gslbd_config_reloads_total{result="ok"}`) {
		t.Errorf("reload metrics missing")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

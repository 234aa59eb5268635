package main

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/gslb"
)

const (
	usEast      = "192.0.2.10"
	euWest      = "198.51.100.10"
	apSoutheast = "203.0.113.10"
	london      = "81.2.69.160/27"
	changchun   = "175.16.199.0/24"
	milton      = "216.160.83.56/29"
)

// TestDevStory is the README's story against the real binary: nearest
// region per client subnet, failover when a region dies, and readmission
// only after the lag has stayed low for the hold window.
func TestDevStory(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	n := startNode(t, "-dev")

	r, err := n.query("www.gslb.test", mdns.TypeA, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := answerAddrs(r); !equalAddrs(got, "192.0.2.80") || !r.Authoritative {
		t.Fatalf("www.gslb.test: got %v aa=%v", got, r.Authoritative)
	}

	n.waitDevReady()

	for _, c := range []struct {
		subnet, want string
		scope        int
	}{{london, euWest, 27}, {changchun, apSoutheast, 24}, {milton, usEast, 29}} {
		r, err := n.query("app.gslb.test", mdns.TypeA, c.subnet)
		if err != nil {
			t.Fatal(err)
		}
		if got := answerAddrs(r); !equalAddrs(got, c.want) {
			t.Errorf("app.gslb.test from %s: got %v, want %s", c.subnet, got, c.want)
		}
		if s := ecsScope(r); s != c.scope {
			t.Errorf("app.gslb.test from %s: ECS scope %d, want %d", c.subnet, s, c.scope)
		}
	}

	// eu-west dies: London moves to the next-nearest region, us-east.
	if code := n.post("/api/v1/dev/regions/eu-west", "", `{"alive":false}`); code != 200 {
		t.Fatalf("dev API: %d", code)
	}
	took := waitFor(t, "London to leave eu-west", 15*time.Second, func() bool {
		return equalAddrs(n.answersFor("app.gslb.test", london), usEast)
	})
	t.Logf("failover seen after %v (interval 1s, fall 2)", took)

	// Back alive with high lag: it must stay out, recovering.
	n.post("/api/v1/dev/regions/eu-west", "", `{"alive":true,"lag_seconds":30}`)
	waitFor(t, "eu-west recovering", 15*time.Second, func() bool {
		return n.endpoint("eu-west@app.gslb.test").State == gslb.Recovering
	})
	for i := 0; i < 20; i++ { // 2 s of answers while the lag is high
		if got := n.answersFor("app.gslb.test", london); !equalAddrs(got, usEast) {
			t.Fatalf("while eu-west lags, London got %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Lag drops: back after the 5 s hold, not before.
	n.post("/api/v1/dev/regions/eu-west", "", `{"lag_seconds":0}`)
	lagLow := time.Now()
	waitFor(t, "eu-west back for London", 30*time.Second, func() bool {
		return equalAddrs(n.answersFor("app.gslb.test", london), euWest)
	})
	if back := time.Since(lagLow); back < 4*time.Second {
		t.Errorf("eu-west came back %v after the lag dropped; the hold is 5s", back)
	} else {
		t.Logf("readmitted %v after the lag dropped (hold 5s)", back)
	}
}

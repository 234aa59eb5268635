package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// writeStore is testConfig plus a write name db.gslb.example.com. over
// eu-west then us-east.
func writeStore(t *testing.T) *gslb.Store {
	t.Helper()
	cfg := testConfig()
	one := 1
	z := &cfg.Zones[0]
	db := config.Name{Name: "db.gslb.example.com.", Policy: "failover", TTL: sec(30), MinTTL: sec(5), Answers: 1,
		Role: "write", Failback: "manual", FailbackHold: sec(60), AllDown: "open", Order: []string{"eu-west", "us-east"}}
	for i, r := range []string{"eu-west", "us-east"} {
		db.Endpoints = append(db.Endpoints, config.Endpoint{Name: r, Region: r, Addresses: []string{[]string{"192.0.2.11", "192.0.2.12"}[i]},
			Weight: &one, ID: r + "@db.gslb.example.com", ProbeID: r + "@db.gslb.example.com"})
	}
	z.Names = append(z.Names, db)
	v := testView(gslb.Ready)
	for _, r := range []string{"eu-west", "us-east"} {
		id := r + "@db.gslb.example.com"
		v.Targets[id] = gslb.TargetState{State: gslb.Ready, Since: testNow.Add(-time.Minute), Reason: "probe ok"}
	}
	snap, err := gslb.NewSnapshot(gslb.Options{Config: cfg, View: v, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	var st gslb.Store
	st.Swap(snap)
	return &st
}

type fakeActive struct {
	mu    sync.Mutex
	calls [][2]string
}

func (f *fakeActive) SetActive(name, region string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, [2]string{name, region})
	return nil
}

func TestSetActive(t *testing.T) {
	fa := &fakeActive{}
	srv := newServer(t, Options{Source: writeStore(t), Token: func() string { return testToken }, SetActive: fa.SetActive})
	noImpl := newServer(t, Options{Source: writeStore(t), Token: func() string { return testToken }})
	noToken := newServer(t, Options{Source: writeStore(t), SetActive: fa.SetActive})
	ok := map[string]string{"Authorization": "Bearer " + testToken}
	const path = "/api/v1/names/db.gslb.example.com/active"
	for _, tc := range []struct {
		name string
		srv  *httptest.Server
		path string
		body string
		hdr  map[string]string
		want int
	}{
		{"no token configured", noToken, path, `{"region":"us-east"}`, ok, 403},
		{"missing token", srv, path, `{"region":"us-east"}`, nil, 401},
		{"wrong token", srv, path, `{"region":"us-east"}`, map[string]string{"Authorization": "Bearer x"}, 401},
		{"read name", srv, "/api/v1/names/www.gslb.example.com/active", `{"region":"us-east"}`, ok, 404},
		{"unknown name", srv, "/api/v1/names/nope.example./active", `{"region":"us-east"}`, ok, 404},
		{"region outside the order", srv, path, `{"region":"ap-south"}`, ok, 400},
		{"bad body", srv, path, `{"region":`, ok, 400},
		{"unknown field", srv, path, `{"region":"us-east","force":true}`, ok, 400},
		{"not implemented", noImpl, path, `{"region":"us-east"}`, ok, 501},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := do(t, tc.srv, "POST", tc.path, tc.body, tc.hdr); r.code != tc.want {
				t.Fatalf("code %d, want %d: %s", r.code, tc.want, r.body)
			}
		})
	}
	if len(fa.calls) != 0 {
		t.Fatalf("rejected requests reached SetActive: %v", fa.calls)
	}
	r := do(t, srv, "POST", "/api/v1/names/DB.gslb.example.com./active", `{"region":"us-east"}`, ok)
	if r.code != 200 {
		t.Fatalf("set active: %d %s", r.code, r.body)
	}
	var resp ActiveResponse
	if err := json.Unmarshal([]byte(r.body), &resp); err != nil || resp.Name != "db.gslb.example.com." || resp.Region != "us-east" {
		t.Fatalf("response %s (%v)", r.body, err)
	}
	if len(fa.calls) != 1 || fa.calls[0] != [2]string{"db.gslb.example.com.", "us-east"} {
		t.Fatalf("SetActive calls %v", fa.calls)
	}
	// The cluster's rule refuses: 409 with the reason, not 500.
	for _, refusal := range []error{gslb.ErrNoQuorum, gslb.ErrNotReady, gslb.ErrStaleTerm} {
		refused := newServer(t, Options{Source: writeStore(t), Token: func() string { return testToken },
			SetActive: func(string, string) error { return fmt.Errorf("%w: sees 1 of 3 members", refusal) }})
		r := do(t, refused, "POST", path, `{"region":"us-east"}`, ok)
		if r.code != 409 || !strings.Contains(r.body, "sees 1 of 3 members") {
			t.Fatalf("%v: %d %s, want 409 with the reason", refusal, r.code, r.body)
		}
	}
}

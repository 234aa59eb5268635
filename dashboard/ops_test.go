package dashboard

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

// drainLog records every Drain call with its whole record.
type drainLog struct {
	mu  sync.Mutex
	got []gslb.Drain
}

func (l *drainLog) Drain(d gslb.Drain) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, d)
	return nil
}

func (l *drainLog) calls() []gslb.Drain {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// memAudit is an in-memory Audit.
type memAudit struct {
	mu      sync.Mutex
	entries []gslb.Change
}

func (a *memAudit) Write(c gslb.Change) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, c.WithID())
	return nil
}

func (a *memAudit) Recent(n int) []gslb.Change {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.entries[max(len(a.entries)-n, 0):])
}

func TestRegionDrainAPI(t *testing.T) {
	drains := &drainLog{}
	aud := &memAudit{}
	srv := newServer(t, Options{Source: testStore(t), Token: func() string { return testToken }, Drain: drains.Drain, Audit: aud})
	bearer := map[string]string{"Authorization": "Bearer " + testToken}
	from := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	until := from.Add(2 * time.Hour)

	// Refused requests never reach Drain.
	for _, tc := range []struct {
		name, path, body string
		hdr              map[string]string
		code             int
	}{
		{"no token", "/api/v1/regions/eu-west/drain", "", nil, 401},
		{"unknown region", "/api/v1/regions/mars/drain", "", bearer, 404},
		{"unknown field", "/api/v1/regions/eu-west/drain", `{"why":"x"}`, bearer, 400},
		{"until before from", "/api/v1/regions/eu-west/drain", `{"from":"` + until.Format(time.RFC3339) + `","until":"` + from.Format(time.RFC3339) + `"}`, bearer, 400},
		{"until in the past", "/api/v1/regions/eu-west/drain", `{"until":"2020-01-01T00:00:00Z"}`, bearer, 400},
		{"not a time", "/api/v1/regions/eu-west/drain", `{"from":"tomorrow"}`, bearer, 400},
		{"long reason", "/api/v1/regions/eu-west/drain", `{"reason":"` + strings.Repeat("x", 300) + `"}`, bearer, 400},
		{"trailing data", "/api/v1/regions/eu-west/drain", `{} {}`, bearer, 400},
	} {
		if r := do(t, srv, "POST", tc.path, tc.body, tc.hdr); r.code != tc.code {
			t.Errorf("%s: %d, want %d: %s", tc.name, r.code, tc.code, r.body)
		}
	}
	if got := drains.calls(); len(got) != 0 {
		t.Fatalf("refused requests reached Drain: %+v", got)
	}

	// An immediate evacuation with a reason.
	r := do(t, srv, "POST", "/api/v1/regions/eu-west/drain", `{"reason":"network maintenance"}`, bearer)
	var resp RegionDrainResponse
	if r.code != 200 || json.Unmarshal([]byte(r.body), &resp) != nil {
		t.Fatalf("drain: %d %s", r.code, r.body)
	}
	if resp.Status != gslb.DrainActive || !slices.Equal(resp.Endpoints, []string{idEU}) || resp.Reason != "network maintenance" {
		t.Errorf("answer %+v", resp)
	}
	// A scheduled window and an undrain.
	r = do(t, srv, "POST", "/api/v1/regions/us-east/drain", `{"from":"`+from.Format(time.RFC3339)+`","until":"`+until.Format(time.RFC3339)+`"}`, bearer)
	if r.code != 200 || json.Unmarshal([]byte(r.body), &resp) != nil || resp.Status != gslb.DrainScheduled {
		t.Fatalf("scheduled drain: %d %s", r.code, r.body)
	}
	if r = do(t, srv, "POST", "/api/v1/regions/eu-west/undrain", "", bearer); r.code != 200 {
		t.Fatalf("undrain: %d %s", r.code, r.body)
	}
	// An endpoint maintenance window goes through the same record.
	if r = do(t, srv, "POST", "/api/v1/endpoints/"+idAP+"/drain", `{"until":"`+until.Format(time.RFC3339)+`"}`, bearer); r.code != 200 {
		t.Fatalf("endpoint window: %d %s", r.code, r.body)
	}
	want := []gslb.Drain{
		{Region: "eu-west", Drained: true, Reason: "network maintenance"},
		{Region: "us-east", Drained: true, From: from, Until: until},
		{Region: "eu-west"},
		{Endpoint: idAP, Drained: true, Until: until},
	}
	if got := drains.calls(); !slices.EqualFunc(got, want, func(a, b gslb.Drain) bool {
		return a.Region == b.Region && a.Endpoint == b.Endpoint && a.Drained == b.Drained && a.Reason == b.Reason &&
			a.From.Equal(b.From) && a.Until.Equal(b.Until)
	}) {
		t.Errorf("Drain calls\n got %+v\nwant %+v", got, want)
	}

	// Every admin request is audited, the refused ones too, with who,
	// what and the result; GET /api/v1/audit lists them.
	r = do(t, srv, "GET", "/api/v1/audit?limit=500", "", nil)
	var entries []gslb.Change
	if r.code != 200 || json.Unmarshal([]byte(r.body), &entries) != nil {
		t.Fatalf("audit: %d %s", r.code, r.body)
	}
	if len(entries) != 12 {
		t.Fatalf("%d audit entries, want 12 (8 refused, 4 done): %s", len(entries), r.body)
	}
	first, ok := entries[0], entries[8]
	if first.Who != "anonymous" || !strings.HasPrefix(first.Result, "401") || first.Kind != gslb.ChangeAdmin || first.Remote == "" || first.Node != "node-a" {
		t.Errorf("refused entry %+v", first)
	}
	if ok.Who != "admin token" || ok.Result != "ok" || ok.Action != `POST /api/v1/regions/eu-west/drain {"reason":"network maintenance"}` {
		t.Errorf("accepted entry %+v", ok)
	}
	if e := entries[1]; !strings.Contains(e.Result, "404 Not Found: unknown region") {
		t.Errorf("404 entry result %q should carry the error text", e.Result)
	}
	for _, bad := range []string{"limit=0", "limit=501", "limit=x"} {
		if r := do(t, srv, "GET", "/api/v1/audit?"+bad, "", nil); r.code != 400 {
			t.Errorf("audit ?%s: %d, want 400", bad, r.code)
		}
	}
	if r := do(t, newServer(t, Options{Source: testStore(t)}), "GET", "/api/v1/audit", "", nil); r.code != 404 {
		t.Errorf("audit without a log: %d, want 404", r.code)
	}
}

// /api/v1/state lists drain records with their status now.
func TestStateDrains(t *testing.T) {
	v := testView(gslb.Drained)
	future := time.Now().Add(time.Hour).UTC()
	v.EndpointDrains = map[string]gslb.Drain{idEU: {Endpoint: idEU, Drained: true, At: testNow, By: "node-b"}}
	v.RegionDrains = map[string]gslb.Drain{"us-east": {Region: "us-east", Drained: true, At: testNow, By: "node-a", From: future, Reason: "patching"}}
	snap, err := gslb.NewSnapshot(gslb.Options{Config: testConfig(), View: v, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	var st gslb.Store
	st.Swap(snap)
	r := do(t, newServer(t, Options{Source: &st}), "GET", "/api/v1/state", "", nil)
	var resp StateResponse
	if err := json.Unmarshal([]byte(r.body), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Drains) != 2 {
		t.Fatalf("drains %+v", resp.Drains)
	}
	if d := resp.Drains[0]; d.Region != "us-east" || d.Status != gslb.DrainScheduled || d.Reason != "patching" {
		t.Errorf("region drain row %+v", d)
	}
	if d := resp.Drains[1]; d.Endpoint != idEU || d.Status != gslb.DrainActive {
		t.Errorf("endpoint drain row %+v", d)
	}
}

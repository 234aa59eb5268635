package dashboard

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/gslb"
)

const testToken = "s3cret-token"

type result struct {
	code   int
	header http.Header
	body   string
}

// do sends one request to a real server on 127.0.0.1:0.
func do(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

func newServer(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(o))
	t.Cleanup(srv.Close)
	return srv
}

func errorOf(t *testing.T, r result) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
		t.Fatalf("want a JSON error body, got %q (%v)", r.body, err)
	}
	return e.Error
}

func TestLivez(t *testing.T) {
	var empty gslb.Store
	r := do(t, newServer(t, Options{Source: &empty}), "GET", "/livez", "", nil)
	if r.code != http.StatusServiceUnavailable {
		t.Errorf("livez without a snapshot: got %d, want 503", r.code)
	}
	r = do(t, newServer(t, Options{Source: testStore(t)}), "GET", "/livez", "", nil)
	if r.code != http.StatusOK || strings.TrimSpace(r.body) != "ok" {
		t.Errorf("livez: got %d %q, want 200 ok", r.code, r.body)
	}
}

func TestReadyz(t *testing.T) {
	var empty gslb.Store
	tests := []struct {
		name     string
		src      Source
		gates    func() []string
		wantCode int
		wantBody []string
	}{
		{"ready", testStore(t), func() []string { return nil }, 200, []string{"ready"}},
		{"nil gates", testStore(t), nil, 200, []string{"ready"}},
		{"gates unmet", testStore(t), func() []string { return []string{"dns listeners not bound", "first probe round not done"} },
			503, []string{"dns listeners not bound", "first probe round not done"}},
		{"no snapshot", &empty, func() []string { return []string{"cluster not joined"} }, 503, []string{"config not loaded", "cluster not joined"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, newServer(t, Options{Source: tc.src, Gates: tc.gates}), "GET", "/readyz", "", nil)
			if r.code != tc.wantCode {
				t.Errorf("code %d, want %d", r.code, tc.wantCode)
			}
			if got := strings.Split(strings.TrimSpace(r.body), "\n"); strings.Join(got, "|") != strings.Join(tc.wantBody, "|") {
				t.Errorf("body lines %q, want %q", got, tc.wantBody)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := newServer(t, Options{Source: testStore(t), Gatherer: reg, Registerer: reg})
	for range 3 {
		do(t, srv, "GET", "/livez", "", nil)
	}
	do(t, srv, "GET", "/no/such/page", "", nil)
	r := do(t, srv, "GET", "/metrics", "", nil)
	if r.code != 200 {
		t.Fatalf("metrics: %d", r.code)
	}
	if !strings.Contains(r.body, `gslbd_http_requests_total{code="200",path="GET /livez"} 3`) {
		t.Errorf("metrics body lacks the livez counter:\n%s", r.body)
	}
	if !strings.Contains(r.body, `gslbd_http_requests_total{code="404",path="other"} 1`) {
		t.Errorf("metrics body lacks the 404 counter:\n%s", r.body)
	}

	// A second handler on the same registry reuses the counter instead of
	// failing to register.
	srv2 := newServer(t, Options{Source: testStore(t), Gatherer: reg, Registerer: reg})
	do(t, srv2, "GET", "/livez", "", nil)
	if n := counterValue(t, reg, "GET /livez", "200"); n != 4 {
		t.Errorf("shared counter for GET /livez = %v, want 4", n)
	}

	if r := do(t, newServer(t, Options{Source: testStore(t)}), "GET", "/metrics", "", nil); r.code != 404 {
		t.Errorf("metrics without a gatherer: %d, want 404", r.code)
	}
}

func TestIndexPage(t *testing.T) {
	srv := newServer(t, Options{Source: testStore(t)})
	r := do(t, srv, "GET", "/", "", nil)
	if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s", r.code, r.header.Get("Content-Type"))
	}
	for _, want := range []string{"<title>gslbd</title>", "/api/v1/state", "data-endpoint", "data-dev-region", `class: "drain"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("index lacks %q", want)
		}
	}
	// The SVG namespace is a name, not a fetch; anything else absolute is.
	if body := strings.ReplaceAll(r.body, "http://www.w3.org/2000/svg", ""); strings.Contains(body, "https://") || strings.Contains(body, "http://") {
		t.Error("index references an external URL; the page must be self-contained")
	}
	if r.header.Get("Content-Security-Policy") == "" {
		t.Error("index has no Content-Security-Policy")
	}
	if r := do(t, srv, "GET", "/index.htm", "", nil); r.code != 404 {
		t.Errorf("unknown path: %d, want 404", r.code)
	}
}

func TestState(t *testing.T) {
	snap := testSnapshot(t)
	var st gslb.Store
	st.Swap(snap)
	srv := newServer(t, Options{
		Source:  &st,
		Gates:   func() []string { return []string{"first probe round not done"} },
		Cluster: func() any { return map[string]any{"mode": "joined", "members": 2} },
	})
	r := do(t, srv, "GET", "/api/v1/state", "", nil)
	if r.code != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("state: %d %s %s", r.code, r.header.Get("Content-Type"), r.body)
	}
	var got StateResponse
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("decoding state: %v\n%s", err, r.body)
	}
	cfg := testConfig()
	if got.Node != "node-a" || got.ConfigHash != cfg.Hash || got.ConfigSource != "test.yaml" {
		t.Errorf("node/config: %q %q %q", got.Node, got.ConfigHash, got.ConfigSource)
	}
	if got.Ready || len(got.Gates) != 1 || got.Gates[0] != "first probe round not done" {
		t.Errorf("ready=%v gates=%q", got.Ready, got.Gates)
	}
	if !got.BuiltAt.Equal(snap.BuiltAt()) {
		t.Errorf("built_at %v, want %v", got.BuiltAt, snap.BuiltAt())
	}
	if cl, ok := got.Cluster.(map[string]any); !ok || cl["mode"] != "joined" {
		t.Errorf("cluster = %#v", got.Cluster)
	}
	if got.View.Self != "node-a" || len(got.View.Members) != 2 || !got.View.Synced || got.View.Isolated {
		t.Errorf("view = %+v", got.View)
	}
	if len(got.Regions) != 3 || got.Regions[0] != (RegionInfo{Name: "eu-west", Lat: 51.5, Lon: -0.12, Continent: "EU"}) {
		t.Errorf("regions = %+v", got.Regions)
	}
	byID := map[string]EndpointRow{}
	for _, e := range got.Endpoints {
		byID[e.ID] = e
	}
	if len(got.Endpoints) != 3 {
		t.Fatalf("want 3 endpoints, got %+v", got.Endpoints)
	}
	eu, us, ap := byID[idEU], byID[idUS], byID[idAP]
	if eu.State != gslb.Ready || eu.Region != "eu-west" || eu.GSLBName != "www.gslb.example.com." ||
		len(eu.Addresses) != 1 || eu.Addresses[0] != "192.0.2.1" || eu.LagSeconds != nil || eu.Differs {
		t.Errorf("eu-west row = %+v", eu)
	}
	if len(eu.Observations) != 2 || eu.Observations[0].Node != "node-a" || eu.Observations[1].Node != "node-b" {
		t.Errorf("eu-west observations = %+v", eu.Observations)
	}
	if us.State != gslb.Down || !us.Differs || us.Reason != "2 probes failed: connection refused" {
		t.Errorf("us-east row = %+v", us)
	}
	if us.Observations[1].State != gslb.Recovering || us.Observations[1].Reason != "alive, waiting for lag" {
		t.Errorf("us-east node-b observation = %+v", us.Observations[1])
	}
	if ap.State != gslb.Recovering || ap.LagSeconds == nil || *ap.LagSeconds != 30 || ap.Differs ||
		ap.Observations[0].LagSeconds == nil || *ap.Observations[0].LagSeconds != 30 {
		t.Errorf("ap-south row = %+v", ap)
	}
	if ap.Since == nil || !ap.Since.Equal(testNow.Add(-60e9)) {
		t.Errorf("ap-south since = %v", ap.Since)
	}
	// The JSON keeps states as names and lag as seconds.
	for _, want := range []string{`"state": "recovering"`, `"lag_seconds": 30`, `"differs": true`, `"id": "` + idEU + `"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("state JSON lacks %s", want)
		}
	}
	if len(got.Events) != len(snap.Events()) {
		t.Errorf("events: %d, snapshot has %d", len(got.Events), len(snap.Events()))
	}

	var empty gslb.Store
	if r := do(t, newServer(t, Options{Source: &empty}), "GET", "/api/v1/state", "", nil); r.code != 503 {
		t.Errorf("state without snapshot: %d, want 503", r.code)
	}
}

func TestStateEvents(t *testing.T) {
	first := testSnapshot(t)
	next := first.WithView(testView(gslb.Down), testNow.Add(5e9))
	var st gslb.Store
	st.Swap(next)
	r := do(t, newServer(t, Options{Source: &st}), "GET", "/api/v1/state", "", nil)
	var got StateResponse
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	want := next.Events()
	if len(want) == 0 {
		t.Fatal("the snapshot recorded no event for eu-west going ready -> down")
	}
	if len(got.Events) != len(want) {
		t.Fatalf("events %+v, want %+v", got.Events, want)
	}
	for i, ev := range want {
		g := got.Events[i]
		if !g.At.Equal(ev.At) || g.Endpoint != ev.Endpoint || g.From != ev.From || g.To != ev.To || g.Reason != ev.Reason {
			t.Errorf("event %d = %+v, want %+v", i, got.Events[i], ev)
		}
	}
	last := got.Events[len(got.Events)-1]
	if last.Endpoint != idEU || last.From != gslb.Ready || last.To != gslb.Down {
		t.Errorf("newest event = %+v, want eu-west ready -> down", last)
	}
}

func TestExplain(t *testing.T) {
	srv := newServer(t, Options{Source: testStore(t)})
	bad := []struct{ name, query, want string }{
		{"no params", "", "missing parameter name"},
		{"no client", "name=www.gslb.example.com", "missing parameter client"},
		{"bad client", "name=www.gslb.example.com&client=not-an-ip", "not an IP address"},
		{"client with zone", "name=www.gslb.example.com&client=fe80::1%25eth0", "not an IP address"},
		{"bad type", "name=www.gslb.example.com&client=192.0.2.9&type=BOGUS", "unknown query type"},
		{"empty label", "name=www..example.com&client=192.0.2.9", "empty label"},
		{"long label", "name=" + strings.Repeat("a", 64) + ".example.com&client=192.0.2.9", "longer than 63"},
		{"space", "name=" + url.QueryEscape("a b.example.com") + "&client=192.0.2.9", "space"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv, "GET", "/api/v1/explain?"+tc.query, "", nil)
			if r.code != 400 {
				t.Fatalf("code %d, want 400 (%s)", r.code, r.body)
			}
			if msg := errorOf(t, r); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not mention %q", msg, tc.want)
			}
		})
	}

	for _, tc := range []struct{ query, name, client, typ string }{
		{"name=WWW.gslb.example.com&client=81.2.69.160", "www.gslb.example.com.", "81.2.69.160", "A"},
		{"name=www.gslb.example.com.&client=2001:db8::1&type=aaaa", "www.gslb.example.com.", "2001:db8::1", "AAAA"},
		{"name=www.gslb.example.com&client=::ffff:81.2.69.160&type=TYPE1", "www.gslb.example.com.", "81.2.69.160", "A"},
	} {
		r := do(t, srv, "GET", "/api/v1/explain?"+tc.query, "", nil)
		if r.code != 200 {
			t.Fatalf("explain %s: %d %s", tc.query, r.code, r.body)
		}
		var x gslb.Explanation
		if err := json.Unmarshal([]byte(r.body), &x); err != nil {
			t.Fatalf("decoding explanation: %v\n%s", err, r.body)
		}
		if x.Name != tc.name || x.Type != tc.typ || !strings.HasPrefix(x.Client, tc.client) {
			t.Errorf("explain %s: name %q type %q client %q, want %q %q %q", tc.query, x.Name, x.Type, x.Client, tc.name, tc.typ, tc.client)
		}
		if x.ECS {
			t.Errorf("explain %s: ECS set for a plain client address", tc.query)
		}
		if len(x.Ranking) != 3 {
			t.Errorf("explain %s: ranking has %d endpoints, want 3: %+v", tc.query, len(x.Ranking), x.Ranking)
		}
	}
}

func TestDrainAuth(t *testing.T) {
	drain := &fakeDrain{unknown: []string{idAP}}
	tokenSrv := newServer(t, Options{Source: testStore(t), Token: func() string { return testToken }, Drain: drain.Drain})
	noTokenSrv := newServer(t, Options{Source: testStore(t), Token: func() string { return "" }, Drain: drain.Drain})
	nilTokenSrv := newServer(t, Options{Source: testStore(t), Drain: drain.Drain})
	bearerOK := map[string]string{"Authorization": "Bearer " + testToken}
	path := "/api/v1/endpoints/" + idEU + "/drain"

	tests := []struct {
		name     string
		srv      *httptest.Server
		path     string
		hdr      map[string]string
		wantCode int
		wantAuth string // WWW-Authenticate must contain this
	}{
		{"no token configured", noTokenSrv, path, bearerOK, 403, ""},
		{"no token func", nilTokenSrv, path, bearerOK, 403, ""},
		{"missing token", tokenSrv, path, nil, 401, `Bearer realm="gslbd"`},
		{"wrong token", tokenSrv, path, map[string]string{"Authorization": "Bearer nope"}, 401, "invalid_token"},
		{"token prefix", tokenSrv, path, map[string]string{"Authorization": "Bearer " + testToken[:5]}, 401, "invalid_token"},
		{"wrong scheme", tokenSrv, path, map[string]string{"Authorization": "Basic " + testToken}, 401, "Bearer"},
		{"empty bearer", tokenSrv, path, map[string]string{"Authorization": "Bearer "}, 401, "Bearer"},
		{"unknown id", tokenSrv, "/api/v1/endpoints/nope@www.gslb.example.com/drain", bearerOK, 404, ""},
		{"unknown id undrain", tokenSrv, "/api/v1/endpoints/nope/undrain", bearerOK, 404, ""},
		{"drain says unknown", tokenSrv, "/api/v1/endpoints/" + idAP + "/drain", bearerOK, 404, ""},
		{"unknown id needs auth first", tokenSrv, "/api/v1/endpoints/nope/drain", nil, 401, "Bearer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.srv, "POST", tc.path, "", tc.hdr)
			if r.code != tc.wantCode {
				t.Fatalf("code %d, want %d: %s", r.code, tc.wantCode, r.body)
			}
			errorOf(t, r)
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, tc.wantAuth) || (tc.wantAuth == "") != (got == "") {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tc.wantAuth)
			}
		})
	}
	if calls := drain.Calls(); len(calls) != 0 {
		t.Fatalf("rejected requests reached Drain: %+v", calls)
	}

	// Success: drain and undrain, with a case-insensitive scheme.
	r := do(t, tokenSrv, "POST", path, "", map[string]string{"Authorization": "bearer " + testToken})
	if r.code != 200 {
		t.Fatalf("drain: %d %s", r.code, r.body)
	}
	var dr DrainResponse
	if err := json.Unmarshal([]byte(r.body), &dr); err != nil || dr != (DrainResponse{ID: idEU, Drained: true}) {
		t.Errorf("drain answer %q (%v)", r.body, err)
	}
	if r := do(t, tokenSrv, "POST", "/api/v1/endpoints/"+idUS+"/undrain", "", bearerOK); r.code != 200 {
		t.Fatalf("undrain: %d %s", r.code, r.body)
	}
	want := []drainCall{{idEU, true}, {idUS, false}}
	if got := drain.Calls(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("drain calls %+v, want %+v", got, want)
	}

	if r := do(t, tokenSrv, "GET", path, "", bearerOK); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET on drain: %d, want 405", r.code)
	}
}

func TestDrainFailures(t *testing.T) {
	bearerOK := map[string]string{"Authorization": "Bearer " + testToken}
	drain := &fakeDrain{fail: errors.New("state file not writable")}
	srv := newServer(t, Options{Source: testStore(t), Token: func() string { return testToken }, Drain: drain.Drain})
	r := do(t, srv, "POST", "/api/v1/endpoints/"+idEU+"/drain", "", bearerOK)
	if r.code != 500 || !strings.Contains(errorOf(t, r), "state file not writable") {
		t.Errorf("failing drain: %d %s", r.code, r.body)
	}
	srv = newServer(t, Options{Source: testStore(t), Token: func() string { return testToken }})
	if r := do(t, srv, "POST", "/api/v1/endpoints/"+idEU+"/drain", "", bearerOK); r.code != 501 {
		t.Errorf("drain without Options.Drain: %d, want 501", r.code)
	}
	var empty gslb.Store
	srv = newServer(t, Options{Source: &empty, Token: func() string { return testToken }, Drain: drain.Drain})
	if r := do(t, srv, "POST", "/api/v1/endpoints/"+idEU+"/drain", "", bearerOK); r.code != 503 {
		t.Errorf("drain before a snapshot: %d, want 503", r.code)
	}
}

func TestDevDisabled(t *testing.T) {
	srv := newServer(t, Options{Source: testStore(t)})
	if r := do(t, srv, "GET", "/api/v1/dev/regions", "", nil); r.code != 404 {
		t.Errorf("GET dev regions without -dev: %d, want 404", r.code)
	}
	if r := do(t, srv, "POST", "/api/v1/dev/regions/eu-west", `{"alive": false}`, nil); r.code != 404 {
		t.Errorf("POST dev region without -dev: %d, want 404", r.code)
	}
}

func TestDev(t *testing.T) {
	dev := newFakeDev()
	srv := newServer(t, Options{Source: testStore(t), Dev: dev})

	r := do(t, srv, "GET", "/api/v1/dev/regions", "", nil)
	var list []DevRegion
	if err := json.Unmarshal([]byte(r.body), &list); r.code != 200 || err != nil || len(list) != 3 || list[0].Region != "eu-west" {
		t.Fatalf("dev list: %d %s (%v)", r.code, r.body, err)
	}

	r = do(t, srv, "POST", "/api/v1/dev/regions/eu-west", `{"alive": false}`, nil)
	var one DevRegion
	if err := json.Unmarshal([]byte(r.body), &one); r.code != 200 || err != nil || one != (DevRegion{Region: "eu-west", Alive: false}) {
		t.Fatalf("kill eu-west: %d %s", r.code, r.body)
	}
	if got := dev.Region("eu-west"); got.Alive {
		t.Errorf("eu-west still alive: %+v", got)
	}
	if r := do(t, srv, "POST", "/api/v1/dev/regions/eu-west", `{"alive": true, "lag_seconds": 30}`, nil); r.code != 200 {
		t.Fatalf("revive with lag: %d %s", r.code, r.body)
	}
	if got := dev.Region("eu-west"); !got.Alive || got.LagSeconds != 30 {
		t.Errorf("eu-west = %+v, want alive with lag 30", got)
	}
	if r := do(t, srv, "POST", "/api/v1/dev/regions/eu-west", `{"lag_seconds": 0}`, nil); r.code != 200 {
		t.Fatalf("lag 0: %d %s", r.code, r.body)
	}
	if got := dev.Region("eu-west"); !got.Alive || got.LagSeconds != 0 {
		t.Errorf("eu-west = %+v, want alive with lag 0", got)
	}

	for _, tc := range []struct{ name, region, body string }{
		{"bad json", "eu-west", `{"alive": `},
		{"wrong type", "eu-west", `{"alive": "no"}`},
		{"unknown field", "eu-west", `{"dead": true}`},
		{"empty object", "eu-west", `{}`},
		{"empty body", "eu-west", ``},
		{"negative lag", "eu-west", `{"lag_seconds": -1}`},
		{"trailing data", "eu-west", `{"alive": true} {"alive": false}`},
		{"too large", "eu-west", `{"alive": true, "x": "` + strings.Repeat("a", maxBody) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv, "POST", "/api/v1/dev/regions/"+tc.region, tc.body, nil)
			if r.code != 400 {
				t.Errorf("code %d, want 400: %s", r.code, r.body)
			}
			errorOf(t, r)
		})
	}
	if got := dev.Region("eu-west"); !got.Alive || got.LagSeconds != 0 {
		t.Errorf("bad requests changed eu-west: %+v", got)
	}
	r = do(t, srv, "POST", "/api/v1/dev/regions/mars-north", `{"alive": false}`, nil)
	if r.code != 404 || !strings.Contains(errorOf(t, r), "mars-north") {
		t.Errorf("unknown region: %d %s", r.code, r.body)
	}
}

func TestPanicBecomes500(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := newServer(t, Options{Source: testStore(t), Registerer: reg, Cluster: func() any { panic("cluster status broke") }})
	if r := do(t, srv, "GET", "/api/v1/state", "", nil); r.code != 500 {
		t.Errorf("panicking handler: %d, want 500", r.code)
	}
	if r := do(t, srv, "GET", "/livez", "", nil); r.code != 200 {
		t.Errorf("server unusable after a panic: %d", r.code)
	}
	if n := counterValue(t, reg, "GET /api/v1/state", "500"); n != 1 {
		t.Errorf("500 counter = %v, want 1", n)
	}
}

// counterValue reads one child of the request counter from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, path, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gslbd_http_requests_total" {
			continue
		}
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["path"] == path && labels["code"] == code {
				return m.Counter.GetValue()
			}
		}
	}
	return 0
}

func TestParsers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"", gslb.TypeA, true}, {"a", gslb.TypeA, true}, {"AAAA", gslb.TypeAAAA, true}, {"TYPE65", 65, true},
		{"28", 28, true}, {"TYPE0", 0, false}, {"TYPE70000", 0, false}, {"-1", 0, false}, {"A6X", 0, false},
	} {
		got, err := parseQType(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseQType(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Example.COM", "example.com.", true}, {"example.com.", "example.com.", true}, {".", ".", true},
		{"", "", false}, {"a..b", "", false}, {".a", "", false}, {strings.Repeat("a.", 130), "", false}, {"é.com", "", false},
	} {
		got, err := normalizeName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("normalizeName(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Bearer abc", "abc", true}, {"bearer  abc ", "abc", true}, {"Bearer", "", false}, {"Basic abc", "", false}, {"", "", false},
	} {
		got, ok := bearer(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("bearer(%q) = %q %v; want %q %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestCrossSiteRequestsRefused: the -dev routes take no token, so a page on
// another site must not be able to steer them with a "simple" form POST
// (no preflight); nor may it drain. Non-browser clients (no Origin or
// Sec-Fetch-Site header) and the page itself are unaffected.
func TestCrossSiteRequestsRefused(t *testing.T) {
	dev := newFakeDev()
	drain := &fakeDrain{}
	srv := newServer(t, Options{Source: testStore(t), Dev: dev, Token: func() string { return testToken }, Drain: drain.Drain})
	crossSite := map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}
	originOnly := map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}

	for _, hdr := range []map[string]string{crossSite, originOnly} {
		r := do(t, srv, "POST", "/api/v1/dev/regions/eu-west", `{"alive": false}`, hdr)
		if r.code != 403 {
			t.Errorf("cross-site dev POST %v: %d, want 403: %s", hdr, r.code, r.body)
		}
		errorOf(t, r)
		withToken := map[string]string{"Authorization": "Bearer " + testToken}
		for k, v := range hdr {
			withToken[k] = v
		}
		if r := do(t, srv, "POST", "/api/v1/endpoints/"+idEU+"/drain", "", withToken); r.code != 403 {
			t.Errorf("cross-site drain %v: %d, want 403", hdr, r.code)
		}
	}
	if !dev.Region("eu-west").Alive || len(drain.Calls()) != 0 {
		t.Fatalf("a cross-site request got through: %+v %+v", dev.Region("eu-west"), drain.Calls())
	}
	// Reading stays open to any origin's navigation, and same-origin or
	// non-browser POSTs work.
	if r := do(t, srv, "GET", "/api/v1/state", "", crossSite); r.code != 200 {
		t.Errorf("cross-site GET state: %d", r.code)
	}
	if r := do(t, srv, "POST", "/api/v1/dev/regions/eu-west", `{"alive": false}`, map[string]string{"Sec-Fetch-Site": "same-origin"}); r.code != 200 {
		t.Errorf("same-origin dev POST: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "POST", "/api/v1/dev/regions/eu-west", `{"alive": true}`, nil); r.code != 200 {
		t.Errorf("curl-style dev POST: %d %s", r.code, r.body)
	}
	// The standalone dev API of "gslbd simulate" is protected the same way.
	sim := httptest.NewServer(DevAPI(dev, nil))
	t.Cleanup(sim.Close)
	if r := do(t, sim, "POST", "/api/v1/dev/regions/eu-west", `{"alive": false}`, crossSite); r.code != 403 {
		t.Errorf("cross-site POST to DevAPI: %d, want 403", r.code)
	}
	if !dev.Region("eu-west").Alive {
		t.Error("DevAPI let a cross-site request through")
	}
}

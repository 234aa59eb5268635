package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

func doHost(t *testing.T, srv *httptest.Server, method, path, host, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostAllowList: the API answered any Host, so a page on another site
// could rebind its own name to this node and read state and metrics, and
// drive the token-free -dev simulation API. Foreign names now get 421.
func TestHostAllowList(t *testing.T) {
	dev := newFakeDev()
	reg := prometheus.NewRegistry()
	srv := newServer(t, Options{Source: testStore(t), Dev: dev, Registerer: reg,
		Hosts: func() []string { return []string{"gslb.example.net"} }})
	sim := httptest.NewServer(DevAPI(dev, zap.NewNop()))
	t.Cleanup(sim.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, tc := range []struct {
		host string
		want int
	}{
		{"127.0.0.1" + port, 200},
		{"[::1]" + port, 200},
		{"localhost" + port, 200},
		{"LOCALHOST", 200},
		{"gslb.example.net" + port, 200},
		{"GSLB.example.net.", 200},
		{"rebind.attacker.example" + port, 421},
		{"gslb.example.net.attacker.example", 421},
		{"localhost.attacker.example", 421},
	} {
		for _, path := range []string{"/api/v1/state", "/metrics", "/readyz", "/api/v1/dev/regions"} {
			if code, body := doHost(t, srv, "GET", path, tc.host, ""); code != tc.want && !(tc.want == 200 && code != 421) {
				t.Errorf("GET %s Host %q: %d, want %d: %s", path, tc.host, code, tc.want, body)
			}
		}
	}
	if code, _ := doHost(t, srv, "POST", "/api/v1/dev/regions/eu-west", "evil.example", `{"alive":false}`); code != 421 {
		t.Errorf("dev POST with a foreign Host: %d, want 421", code)
	}
	if code, _ := doHost(t, sim, "POST", "/api/v1/dev/regions/eu-west", "evil.example", `{"alive":false}`); code != 421 {
		t.Errorf("simulate POST with a foreign Host: %d, want 421", code)
	}
	if n := counterValue(t, reg, "other", "421"); n < 1 {
		t.Errorf("421 answers not counted: %v", n)
	}
	if !dev.Regions()[0].Alive {
		t.Fatal("a request with a foreign Host changed the simulated backend")
	}
	if code, _ := doHost(t, sim, "POST", "/api/v1/dev/regions/eu-west", "127.0.0.1", `{"alive":false}`); code != 200 {
		t.Errorf("simulate POST from 127.0.0.1: %d, want 200", code)
	}
}

func TestSetActiveRefusesTrailingDataAndLongRegions(t *testing.T) {
	fa := &fakeActive{}
	srv := newServer(t, Options{Source: writeStore(t), Token: func() string { return testToken }, SetActive: fa.SetActive})
	ok := map[string]string{"Authorization": "Bearer " + testToken}
	const path = "/api/v1/names/db.gslb.example.com/active"
	for name, body := range map[string]string{
		"trailing object":  `{"region":"us-east"}{"region":"eu-west"}`,
		"trailing garbage": `{"region":"us-east"} x`,
		"long region":      `{"region":"` + strings.Repeat("r", 256) + `"}`,
	} {
		if r := do(t, srv, "POST", path, body, ok); r.code != 400 {
			t.Errorf("%s: code %d, want 400: %s", name, r.code, r.body)
		}
	}
	if len(fa.calls) != 0 {
		t.Fatalf("refused requests reached SetActive: %v", fa.calls)
	}
}

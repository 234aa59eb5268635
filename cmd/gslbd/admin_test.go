package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI records the admin requests the subcommands send.
type fakeAPI struct {
	mu   sync.Mutex
	reqs []fakeReq
	srv  *httptest.Server
}

type fakeReq struct {
	method, path, auth string
	body               map[string]string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	a := &fakeAPI{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := fakeReq{method: r.Method, path: r.URL.RequestURI(), auth: r.Header.Get("Authorization")}
		_ = json.Unmarshal(b, &req.body)
		a.mu.Lock()
		a.reqs = append(a.reqs, req)
		a.mu.Unlock()
		if req.auth != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"wrong admin token"}`))
			return
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v1/regions/"):
			_, _ = w.Write([]byte(`{"region":"eu-west","status":"scheduled","from":"2030-01-01T00:00:00Z","endpoints":["eu-west@app.x"]}`))
		case r.URL.Path == "/api/v1/audit":
			_, _ = w.Write([]byte(`[{"kind":"admin","action":"x"},{"kind":"write_primary","name":"db.x."}]`))
		default:
			_, _ = w.Write([]byte(`{"id":"eu-west@app.x","drained":true}`))
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAPI) last() fakeReq {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reqs[len(a.reqs)-1]
}

func TestDrainCommand(t *testing.T) {
	api := newFakeAPI(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	before := time.Now()
	code := run([]string{"drain", "-api", api.srv.URL, "-token-file", tokenFile, "-region", "eu-west",
		"-reason", "kernel", "-in", "1h", "-for", "30m"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	r := api.last()
	if r.method != "POST" || r.path != "/api/v1/regions/eu-west/drain" || r.auth != "Bearer tok" || r.body["reason"] != "kernel" {
		t.Fatalf("request %+v", r)
	}
	from, err1 := time.Parse(time.RFC3339Nano, r.body["from"])
	until, err2 := time.Parse(time.RFC3339Nano, r.body["until"])
	if err1 != nil || err2 != nil || until.Sub(from) != 30*time.Minute || from.Before(before.Add(time.Hour)) {
		t.Errorf("window %q..%q: want 30m starting in 1h", r.body["from"], r.body["until"])
	}
	if !strings.Contains(out.String(), "region eu-west: scheduled from 2030-01-01T00:00:00Z (1 endpoint(s): eu-west@app.x)") {
		t.Errorf("output %q", out.String())
	}

	// Token from the environment; an endpoint undrain sends no window.
	t.Setenv(tokenEnv, "tok")
	out.Reset()
	if code := run([]string{"undrain", "-api", api.srv.URL, "-endpoint", "eu-west@app.x"}, &out, &errb); code != 0 {
		t.Fatalf("undrain exit %d: %s", code, errb.String())
	}
	if r := api.last(); r.path != "/api/v1/endpoints/eu-west@app.x/undrain" || r.auth != "Bearer tok" || len(r.body) != 0 {
		t.Errorf("undrain request %+v", r)
	}

	// gslbd audit prints one compact JSON object per line.
	out.Reset()
	if code := run([]string{"audit", "-api", api.srv.URL, "-n", "2"}, &out, &errb); code != 0 {
		t.Fatalf("audit exit %d: %s", code, errb.String())
	}
	if got := out.String(); got != "{\"kind\":\"admin\",\"action\":\"x\"}\n{\"kind\":\"write_primary\",\"name\":\"db.x.\"}\n" || api.last().path != "/api/v1/audit?limit=2" {
		t.Errorf("audit output %q (request %+v)", got, api.last())
	}

	// A refused token: exit 1 with the API's reason.
	t.Setenv(tokenEnv, "nope")
	errb.Reset()
	if code := run([]string{"drain", "-api", api.srv.URL, "-region", "eu-west"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "401 Unauthorized: wrong admin token") {
		t.Errorf("wrong token: exit %d, %q", code, errb.String())
	}
}

func TestDrainCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"drain"},
		{"drain", "-region", "a", "-endpoint", "b"},
		{"drain", "-region", "a", "extra"},
		{"drain", "-region", "a", "-from", "tomorrow"},
		{"drain", "-region", "a", "-from", "2030-01-01T00:00:00Z", "-in", "1h"},
		{"drain", "-region", "a", "-for", "-1h"},
		{"undrain", "-region", "a", "-until", "2030-01-01T00:00:00Z"}, // no window on an undrain
		{"audit", "-n", "0"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"drain", "-region", "a", "-api", "ftp://x"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "not an http") {
		t.Errorf("bad -api: exit %d %q", code, errb.String())
	}
}

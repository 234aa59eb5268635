package health

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
)

func TestLagFromJSON(t *testing.T) {
	cases := []struct {
		name, body, field string
		want              time.Duration
		wantErr           string
	}{
		{"top level", `{"lag": 1.5}`, "lag", 1500 * time.Millisecond, ""},
		{"nested", `{"replication": {"lag_seconds": 3}}`, "replication.lag_seconds", 3 * time.Second, ""},
		{"array index", `{"replicas": [{"lag": 0}, {"lag": 7}]}`, "replicas.1.lag", 7 * time.Second, ""},
		{"zero", `{"lag": 0}`, "lag", 0, ""},
		{"string is not a number", `{"lag": "1.5"}`, "lag", 0, "is a string, not a number"},
		{"null", `{"lag": null}`, "lag", 0, "is null"},
		{"object", `{"lag": {"s": 1}}`, "lag", 0, "is an object"},
		{"negative", `{"lag": -2}`, "lag", 0, "negative lag"},
		{"huge", `{"lag": 1e300}`, "lag", 0, "out of range"},
		{"missing field", `{"other": 1}`, "lag", 0, `"lag" missing`},
		{"missing nested", `{"replication": {}}`, "replication.lag_seconds", 0, `"replication.lag_seconds" missing`},
		{"through a number", `{"replication": 5}`, "replication.lag_seconds", 0, "is not an object"},
		{"bad index", `{"replicas": []}`, "replicas.0", 0, "no index"},
		{"not JSON", `lag=1`, "lag", 0, "bad JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, err := splitPath(tc.field)
			if err != nil {
				t.Fatal(err)
			}
			got, err := lagFromJSON([]byte(tc.body), tc.field, path)
			checkErr(t, err, tc.wantErr)
			if err == nil && got != tc.want {
				t.Fatalf("lag %s, want %s", got, tc.want)
			}
		})
	}
}

const promPage = `# HELP pg_replication_lag_seconds Replication lag.
# TYPE pg_replication_lag_seconds gauge
pg_replication_lag_seconds{instance="a",role="replica"} 4.5
pg_replication_lag_seconds{instance="b",role="replica"} 0.25
pg_replication_lag_seconds{instance="c",role="primary"} 0
# TYPE lag_untyped untyped
lag_untyped 2
# TYPE lag_nan gauge
lag_nan NaN
# TYPE lag_negative gauge
lag_negative -1
# TYPE lag_hist histogram
lag_hist_bucket{le="1"} 1
lag_hist_bucket{le="+Inf"} 1
lag_hist_sum 0.5
lag_hist_count 1
`

func TestLagFromProm(t *testing.T) {
	cases := []struct {
		name, metric string
		labels       map[string]string
		want         time.Duration
		wantErr      string
	}{
		{"labels match one", "pg_replication_lag_seconds", map[string]string{"instance": "b"}, 250 * time.Millisecond, ""},
		{"several match: largest", "pg_replication_lag_seconds", map[string]string{"role": "replica"}, 4500 * time.Millisecond, ""},
		{"no matchers: largest", "pg_replication_lag_seconds", nil, 4500 * time.Millisecond, ""},
		{"empty matcher matches absent label", "lag_untyped", map[string]string{"instance": ""}, 2 * time.Second, ""},
		{"labels match none", "pg_replication_lag_seconds", map[string]string{"instance": "z"}, 0, "no sample matches"},
		{"label absent", "pg_replication_lag_seconds", map[string]string{"zone": "x"}, 0, "no sample matches"},
		{"missing metric", "nope", nil, 0, "metric nope missing"},
		{"NaN", "lag_nan", nil, 0, "NaN"},
		{"negative", "lag_negative", nil, 0, "negative lag"},
		{"histogram", "lag_hist", nil, 0, "is a histogram"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lagFromProm([]byte(promPage), tc.metric, tc.labels)
			checkErr(t, err, tc.wantErr)
			if err == nil && got != tc.want {
				t.Fatalf("lag %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := lagFromProm([]byte("not {valid"), "x", nil); err == nil || !strings.Contains(err.Error(), "bad metrics text") {
		t.Fatalf("bad text: %v", err)
	}
}

func readiness(typ, url string) *config.Readiness {
	return &config.Readiness{
		Type: typ, URL: url,
		MaxLag: config.Duration(time.Second), Hold: config.Duration(time.Second),
		Interval: config.Duration(2 * time.Second), Timeout: config.Duration(time.Second),
	}
}

func TestLagSourcesOverHTTP(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			fmt.Fprint(w, `{"replication": {"lag_seconds": 0.5}}`)
		case "/metrics":
			fmt.Fprint(w, promPage)
		case "/huge":
			fmt.Fprint(w, `{"lag": "`+strings.Repeat("x", maxBody)+`"}`)
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	defer srv.Close()
	defer close(release)

	read := func(r *config.Readiness) (time.Duration, error) {
		s, err := NewLagSource(r, nil)
		if err != nil {
			t.Fatalf("NewLagSource: %v", err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), r.Timeout.D())
		defer cancel()
		return s.Lag(ctx)
	}
	j := readiness("http_json", srv.URL+"/json")
	j.Field = "replication.lag_seconds"
	if got, err := read(j); err != nil || got != 500*time.Millisecond {
		t.Fatalf("json: %s, %v", got, err)
	}
	p := readiness("prometheus", srv.URL+"/metrics")
	p.Metric, p.Labels = "pg_replication_lag_seconds", map[string]string{"instance": "a"}
	if got, err := read(p); err != nil || got != 4500*time.Millisecond {
		t.Fatalf("prometheus: %s, %v", got, err)
	}
	for path, want := range map[string]string{"/500": "status 500", "/slow": "timed out", "/huge": "larger than"} {
		j.URL = srv.URL + path
		_, err := read(j)
		checkErr(t, err, want)
	}
}

func TestReadinessConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		mod  func(r *config.Readiness)
		want string
	}{
		{"no type", func(r *config.Readiness) { r.Type = ""; r.Field = "" }, "needs a type"},
		{"unknown type", func(r *config.Readiness) { r.Type = "mysql" }, "unknown readiness type"},
		{"timeout >= interval", func(r *config.Readiness) { r.Timeout = r.Interval }, "must be < interval"},
		{"max_lag 0", func(r *config.Readiness) { r.MaxLag = 0 }, "max_lag"},
		{"negative hold", func(r *config.Readiness) { r.Hold = -1 }, "hold"},
		{"no field", func(r *config.Readiness) { r.Field = "" }, "needs a field"},
		{"empty segment", func(r *config.Readiness) { r.Field = "a..b" }, "empty segment"},
		{"bad url", func(r *config.Readiness) { r.URL = "::" }, "bad url"},
		{"bad metric", func(r *config.Readiness) { r.Type = "prometheus"; r.Metric = "" }, "bad metric name"},
		{"no dsn", func(r *config.Readiness) { r.Type = "postgres" }, "needs a dsn"},
		{"bad dsn", func(r *config.Readiness) { r.Type = "postgres"; r.DSN = "port=notaport" }, "bad dsn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := readiness("http_json", "http://127.0.0.1:1/")
			r.Field = "lag"
			tc.mod(r)
			err := checkReadiness(r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	good := readiness("postgres", "")
	good.DSN = "host=127.0.0.1 port=1 user=x"
	if err := checkReadiness(good); err != nil {
		t.Fatalf("good postgres: %v", err)
	}
	good.Type = "" // inferred from the DSN, as config does
	if s, err := NewLagSource(good, nil); err != nil || s.Kind() != "postgres" {
		t.Fatalf("inferred type: %v", err)
	}
}

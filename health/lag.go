package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gslbd/gslbd/config"
)

// maxMetricsBody bounds a Prometheus exposition page: real exporters can
// be large, but a lying server must not make us read forever.
const maxMetricsBody = 8 << 20

// LagSource reads an endpoint's replication lag. Lag returns an error for
// anything it cannot read as a non-negative number of seconds; ctx
// carries the read's timeout. Close releases held connections; the Manager
// calls it once, from the goroutine that called Lag, when the target stops.
type LagSource interface {
	Lag(ctx context.Context) (time.Duration, error)
	// Kind is the metric label: http_json, prometheus or postgres.
	Kind() string
	Close() error
}

// NewLagSource builds the lag source for r (defaults filled in). client,
// when non-nil, is used for HTTP sources instead of a per-source client.
// No connection is made here.
func NewLagSource(r *config.Readiness, client *http.Client) (LagSource, error) {
	if r == nil {
		return nil, errors.New("no readiness source")
	}
	if err := checkTimings(r.Interval, r.Timeout); err != nil {
		return nil, err
	}
	if r.MaxLag <= 0 {
		return nil, fmt.Errorf("max_lag %s must be > 0", r.MaxLag.D())
	}
	if r.Hold < 0 {
		return nil, fmt.Errorf("hold %s must be >= 0", r.Hold.D())
	}
	httpClient := func() (*http.Client, error) {
		if client != nil {
			return client, nil
		}
		return newHTTPClient(r.TLSSkipVerify, r.CAFile, r.CAPEM, "")
	}
	switch typ := readinessType(r); typ {
	case "http_json":
		u, err := parseHTTPURL(r.URL)
		if err != nil {
			return nil, err
		}
		path, err := splitPath(r.Field)
		if err != nil {
			return nil, err
		}
		c, err := httpClient()
		if err != nil {
			return nil, err
		}
		return &jsonLag{client: c, url: u.String(), field: r.Field, path: path}, nil
	case "prometheus":
		u, err := parseHTTPURL(r.URL)
		if err != nil {
			return nil, err
		}
		if !model.UTF8Validation.IsValidMetricName(r.Metric) {
			return nil, fmt.Errorf("bad metric name %q", r.Metric)
		}
		c, err := httpClient()
		if err != nil {
			return nil, err
		}
		return &promLag{client: c, url: u.String(), metric: r.Metric, labels: r.Labels}, nil
	case "postgres":
		if r.DSN == "" {
			return nil, errors.New("postgres readiness needs a dsn")
		}
		cfg, err := pgx.ParseConfig(r.DSN)
		if err != nil {
			return nil, fmt.Errorf("bad dsn: %v", err)
		}
		return &pgLag{cfg: cfg, maxLag: r.MaxLag.D()}, nil
	case "":
		return nil, errors.New("readiness needs a type (http_json, prometheus or postgres)")
	default:
		return nil, fmt.Errorf("unknown readiness type %q (want http_json, prometheus or postgres)", typ)
	}
}

// readinessType is r.Type, else inferred as config validation does.
func readinessType(r *config.Readiness) string {
	switch {
	case r.Type != "":
		return strings.ToLower(r.Type)
	case r.DSN != "":
		return "postgres"
	case r.Metric != "":
		return "prometheus"
	case r.Field != "":
		return "http_json"
	}
	return ""
}

func splitPath(field string) ([]string, error) {
	if field == "" {
		return nil, errors.New("http_json readiness needs a field")
	}
	parts := strings.Split(field, ".")
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("bad field path %q: empty segment", field)
		}
	}
	return parts, nil
}

// seconds converts a lag in seconds to a Duration, refusing what is not a
// usable lag.
func seconds(v float64) (time.Duration, error) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, fmt.Errorf("lag %v is not a number", v)
	case v < 0:
		return 0, fmt.Errorf("negative lag %vs", v)
	case v > float64(math.MaxInt64/int64(time.Second)):
		return 0, fmt.Errorf("lag %vs is out of range", v)
	}
	return time.Duration(v * float64(time.Second)), nil
}

// getBody fetches url and returns at most limit bytes of a 2xx body.
func getBody(ctx context.Context, c *http.Client, url, accept string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "gslbd-health")
	resp, err := c.Do(req)
	if err != nil {
		return nil, probeErr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", probeErr(ctx, err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("body larger than %d bytes", limit)
	}
	return b, nil
}

// jsonLag reads a number of seconds at a dotted path in a JSON document.
// A path segment that is a decimal integer indexes an array.
type jsonLag struct {
	client *http.Client
	url    string
	field  string
	path   []string
}

func (*jsonLag) Kind() string { return "http_json" }
func (*jsonLag) Close() error { return nil }

func (s *jsonLag) Lag(ctx context.Context) (time.Duration, error) {
	b, err := getBody(ctx, s.client, s.url, "application/json", maxBody)
	if err != nil {
		return 0, err
	}
	return lagFromJSON(b, s.field, s.path)
}

func lagFromJSON(b []byte, field string, path []string) (time.Duration, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, fmt.Errorf("bad JSON: %v", err)
	}
	for i, seg := range path {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return 0, fmt.Errorf("field %s: %q missing", field, strings.Join(path[:i+1], "."))
			}
			v = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(node) {
				return 0, fmt.Errorf("field %s: no index %q in an array of %d", field, seg, len(node))
			}
			v = node[n]
		default:
			return 0, fmt.Errorf("field %s: %q is not an object", field, strings.Join(path[:i], "."))
		}
	}
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("field %s is %s, not a number", field, jsonKind(v))
	}
	f, err := num.Float64()
	if err != nil {
		return 0, fmt.Errorf("field %s: %v", field, err)
	}
	return seconds(f)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// promLag reads a gauge, untyped or counter sample from a Prometheus text
// page. When several samples match the label matchers the largest wins:
// the worst lag is the safe reading.
type promLag struct {
	client *http.Client
	url    string
	metric string
	labels map[string]string
}

func (*promLag) Kind() string { return "prometheus" }
func (*promLag) Close() error { return nil }

func (s *promLag) Lag(ctx context.Context) (time.Duration, error) {
	b, err := getBody(ctx, s.client, s.url, "text/plain;version=0.0.4", maxMetricsBody)
	if err != nil {
		return 0, err
	}
	return lagFromProm(b, s.metric, s.labels)
}

func lagFromProm(b []byte, metric string, labels map[string]string) (time.Duration, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("bad metrics text: %v", err)
	}
	fam, ok := fams[metric]
	if !ok {
		return 0, fmt.Errorf("metric %s missing", metric)
	}
	found := false
	best := 0.0
	for _, m := range fam.GetMetric() {
		if !labelsMatch(m.GetLabel(), labels) {
			continue
		}
		var v float64
		switch fam.GetType() {
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		case dto.MetricType_UNTYPED:
			v = m.GetUntyped().GetValue()
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		default:
			return 0, fmt.Errorf("metric %s is a %s, want a gauge", metric, strings.ToLower(fam.GetType().String()))
		}
		if math.IsNaN(v) {
			return 0, fmt.Errorf("metric %s is NaN", metric)
		}
		if !found || v > best {
			best, found = v, true
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s: no sample matches labels %v", metric, labels)
	}
	return seconds(best)
}

func labelsMatch(have []*dto.LabelPair, want map[string]string) bool {
	for k, v := range want {
		ok := false
		for _, l := range have {
			if l.GetName() == k {
				ok = l.GetValue() == v
				break
			}
		}
		if !ok && v != "" {
			return false
		}
	}
	return true
}

// pgLagQuery reads, in one round trip: whether the server is a standby;
// its replay lag (0 with nothing left to replay, else the age of the last
// replayed transaction; NULL before the first one); and its WAL
// receiver's status and the age of the last message from the primary.
// Replay can be ahead of the receive position (just after a standby
// restart the WAL receiver starts again from the beginning of a segment),
// which also means nothing is pending, hence <= rather than =. The
// receiver timeout bounds how long a healthy but idle stream stays
// silent: the standby pings the primary after half of it.
const pgLagQuery = `SELECT pg_is_in_recovery(),
  CASE
    WHEN NOT pg_is_in_recovery() THEN 0::float8
    WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0::float8
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
  END,
  (SELECT status FROM pg_stat_wal_receiver LIMIT 1),
  (SELECT EXTRACT(EPOCH FROM now() - last_msg_receipt_time)::float8 FROM pg_stat_wal_receiver LIMIT 1),
  EXTRACT(EPOCH FROM current_setting('wal_receiver_timeout')::interval)::float8`

// pgLag keeps one connection per target and reconnects after any error,
// so a restarted server is picked up at the next read.
type pgLag struct {
	cfg    *pgx.ConnConfig
	conn   *pgx.Conn
	maxLag time.Duration
}

func (*pgLag) Kind() string { return "postgres" }

// Lag is 0 on a primary. On a standby it is the replay lag, but only
// while the standby is really replicating: a standby whose WAL stream is
// cut has nothing to replay and would read 0 — a lie. So a WAL receiver
// that is not streaming, or that has heard nothing from the primary for
// longer than max_lag (at least half the standby's wal_receiver_timeout,
// the longest a healthy idle stream stays silent, plus a second), fails
// the read: the standby is not ready, with that reason.
func (s *pgLag) Lag(ctx context.Context) (time.Duration, error) {
	if s.conn == nil {
		c, err := pgx.ConnectConfig(ctx, s.cfg)
		if err != nil {
			return 0, fmt.Errorf("connect: %w", probeErr(ctx, err))
		}
		s.conn = c
	}
	var (
		standby         bool
		lag, msgAge, rt *float64
		status          *string
	)
	if err := s.conn.QueryRow(ctx, pgLagQuery).Scan(&standby, &lag, &status, &msgAge, &rt); err != nil {
		s.drop()
		return 0, fmt.Errorf("query: %w", probeErr(ctx, err))
	}
	if standby {
		if status == nil || *status != "streaming" {
			st := "no WAL receiver"
			if status != nil {
				st = "WAL receiver " + *status
			}
			return 0, fmt.Errorf("standby is not streaming from its primary (%s)", st)
		}
		silent := s.maxLag
		if rt != nil && *rt > 0 {
			silent = max(silent, time.Duration(*rt/2*float64(time.Second))+time.Second)
		}
		if msgAge != nil && time.Duration(*msgAge*float64(time.Second)) > silent {
			return 0, fmt.Errorf("standby has heard nothing from its primary for %.1fs (limit %s)", *msgAge, silent)
		}
	}
	if lag == nil {
		return 0, errors.New("standby has not replayed any transaction yet")
	}
	// A standby's clock a little ahead of the primary's gives a small
	// negative age: it has replayed everything, so it reads as 0.
	return seconds(max(*lag, 0))
}

func (s *pgLag) drop() {
	if s.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.conn.Close(ctx)
	s.conn = nil
}

func (s *pgLag) Close() error {
	s.drop()
	return nil
}

// brokenLag stands in for a lag source whose settings could not be used:
// every read fails with why, so the endpoint is never ready.
type brokenLag struct {
	kind string
	err  error
}

func (b brokenLag) Kind() string                               { return b.kind }
func (b brokenLag) Lag(context.Context) (time.Duration, error) { return 0, b.err }
func (brokenLag) Close() error                                 { return nil }

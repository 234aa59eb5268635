package hooks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleChange() gslb.Change {
	return gslb.Change{Kind: gslb.ChangeWritePrimary, At: t0, Node: "n1", Name: "db.gslb.test.",
		From: "us-east", To: "eu-west", Term: 7, Reason: "us-east down", LagSeconds: gslb.Lag(1500*time.Millisecond, true)}
}

func hookCfg(name string) config.Hook {
	return config.Hook{Name: name, On: []string{gslb.ChangeWritePrimary, gslb.ChangeEndpointState, gslb.ChangeRegionDrain},
		Timeout: config.Duration(5 * time.Second), Retries: 3, Backoff: config.Duration(100 * time.Millisecond),
		MaxBackoff: config.Duration(250 * time.Millisecond), Queue: 8}
}

// request is what the test receiver saw of one attempt.
type request struct {
	body                     []byte
	sig, key, event, attempt string
	contentType              string
}

// receiver is a local webhook endpoint answering the given status codes
// in turn (the last one repeats).
type receiver struct {
	mu     sync.Mutex
	codes  []int
	got    []request
	notify chan struct{}
	srv    *httptest.Server
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes, notify: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		code := r.codes[min(len(r.got), len(r.codes)-1)]
		r.got = append(r.got, request{body: b, sig: req.Header.Get(HeaderSignature), key: req.Header.Get(HeaderIdempotencyKey),
			event: req.Header.Get(HeaderEvent), attempt: req.Header.Get(HeaderAttempt), contentType: req.Header.Get("Content-Type")})
		r.mu.Unlock()
		w.WriteHeader(code)
		r.notify <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// start runs a Dispatcher whose retry waits are recorded, not slept.
func start(t *testing.T, hs ...config.Hook) (*Dispatcher, *prometheus.Registry, *[]time.Duration) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := New(Options{Hooks: hs, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	d.sleep = func(ctx context.Context, w time.Duration) bool {
		mu.Lock()
		*waits = append(*waits, w)
		mu.Unlock()
		return ctx.Err() == nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, reg, waits
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func deliveries(reg *prometheus.Registry, hook, result string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "gslbd_hooks_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["hook"] == hook && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A webhook that fails twice with 500 and then accepts: three signed
// attempts with the same idempotency key and body, growing back-off, one
// delivery counted.
func TestWebhookRetriesUntilAccepted(t *testing.T) {
	rcv := newReceiver(t, 500, 500, 200)
	secret := []byte("s3cret")
	h := hookCfg("pager")
	h.Webhook = &config.Webhook{URL: rcv.srv.URL + "/hook", Secret: secret}
	d, reg, waits := start(t, h)

	d.Fire(sampleChange())
	waitFor(t, "delivery counted", func() bool { return deliveries(reg, "pager", "ok") == 1 })
	got := rcv.requests()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	want := sampleChange().WithID()
	for i, r := range got {
		if !Verify(secret, r.body, r.sig) {
			t.Errorf("attempt %d: signature %q does not verify", i+1, r.sig)
		}
		if Verify([]byte("other"), r.body, r.sig) {
			t.Errorf("attempt %d: signature verifies under the wrong key", i+1)
		}
		if r.key != want.ID || r.key == "" {
			t.Errorf("attempt %d: idempotency key %q, want %q on every attempt", i+1, r.key, want.ID)
		}
		if r.attempt != []string{"1", "2", "3"}[i] || r.event != gslb.ChangeWritePrimary || r.contentType != "application/json" {
			t.Errorf("attempt %d: headers attempt=%s event=%s type=%s", i+1, r.attempt, r.event, r.contentType)
		}
		var c gslb.Change
		if err := json.Unmarshal(r.body, &c); err != nil {
			t.Fatalf("attempt %d: body %s: %v", i+1, r.body, err)
		}
		if c.ID != want.ID || c.From != "us-east" || c.To != "eu-west" || c.Term != 7 || c.LagSeconds == nil || *c.LagSeconds != 1.5 || !c.At.Equal(t0) {
			t.Errorf("attempt %d: event %+v", i+1, c)
		}
	}
	if !slices.Equal(*waits, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}) {
		t.Errorf("back-off %v, want 100ms then 200ms", *waits)
	}
	if n := deliveries(reg, "pager", "retry"); n != 2 {
		t.Errorf("retries counted %v, want 2", n)
	}
}

// A receiver that always fails gets 1+retries attempts, then the hook
// gives up, logs and counts it; the back-off is capped.
func TestWebhookGivesUp(t *testing.T) {
	rcv := newReceiver(t, 500)
	h := hookCfg("down")
	h.Webhook = &config.Webhook{URL: rcv.srv.URL}
	h.Retries = 4
	d, reg, waits := start(t, h)
	d.Fire(sampleChange())
	waitFor(t, "give-up counted", func() bool { return deliveries(reg, "down", "failed") == 1 })
	if got := rcv.requests(); len(got) != 5 {
		t.Fatalf("%d attempts, want 1 + 4 retries", len(got))
	}
	if !slices.Equal(*waits, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}) {
		t.Errorf("back-off %v, want doubling capped at 250ms", *waits)
	}
	if rcv.requests()[0].sig != "" {
		t.Error("a hook without a secret must not send a signature")
	}
	// The next event is delivered (and fails) on its own.
	d.Fire(gslb.Change{Kind: gslb.ChangeRegionDrain, At: t0, Node: "n1", Region: "eu-west", To: "drained"})
	waitFor(t, "second give-up", func() bool { return deliveries(reg, "down", "failed") == 2 })
}

// A webhook that hangs is cut off by the hook's timeout, and retried.
func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	var calls sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		defer calls.Done()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	h := hookCfg("slow")
	h.Webhook = &config.Webhook{URL: srv.URL}
	h.Timeout, h.Retries = config.Duration(50*time.Millisecond), 1
	d, reg, _ := start(t, h)
	d.Fire(sampleChange())
	waitFor(t, "give-up after timeouts", func() bool { return deliveries(reg, "slow", "failed") == 1 })
	if n := deliveries(reg, "slow", "retry"); n != 1 {
		t.Errorf("retries %v, want 1", n)
	}
}

// A full queue drops the new event and counts it; Fire never blocks.
func TestQueueBound(t *testing.T) {
	h := hookCfg("q")
	h.Webhook = &config.Webhook{URL: "http://127.0.0.1:1/"}
	h.Queue = 2
	reg := prometheus.NewRegistry()
	d, err := New(Options{Hooks: []config.Hook{h}, Registerer: reg}) // not running: nothing drains
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		d.Fire(sampleChange())
	}
	if n := deliveries(reg, "q", "dropped"); n != 3 {
		t.Fatalf("dropped %v, want 3 of 5 with a queue of 2", n)
	}
	if n := len(d.hooks[0].queue); n != 2 {
		t.Fatalf("%d queued, want 2", n)
	}
}

// A command hook gets the event in GSLBD_* variables and as JSON on
// standard input, plus its configured environment and nothing else.
func TestCommandHook(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := writeScript(t, dir, "hook.sh", `#!/bin/sh
env | sort > "$OUT.env"
cat > "$OUT.json"
`)
	h := hookCfg("cmd")
	h.Command = &config.Command{Argv: []string{script}, Env: map[string]string{"OUT": out}}
	d, reg, _ := start(t, h)
	d.Fire(sampleChange())
	waitFor(t, "command delivered", func() bool { return deliveries(reg, "cmd", "ok") == 1 })
	env, err := os.ReadFile(out + ".env")
	if err != nil {
		t.Fatal(err)
	}
	id := sampleChange().WithID().ID
	for _, want := range []string{"GSLBD_KIND=write_primary", "GSLBD_NAME=db.gslb.test.", "GSLBD_FROM=us-east",
		"GSLBD_TO=eu-west", "GSLBD_TERM=7", "GSLBD_LAG_SECONDS=1.5", "GSLBD_REASON=us-east down",
		"GSLBD_EVENT_ID=" + id, "GSLBD_ATTEMPT=1", "GSLBD_AT=2026-03-01T12:00:00Z", "OUT=" + out} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(string(env), "HOME=") {
		t.Error("the daemon's own environment leaked into the hook")
	}
	js, _ := os.ReadFile(out + ".json")
	var c gslb.Change
	if err := json.Unmarshal(js, &c); err != nil || c.ID != id {
		t.Errorf("stdin %s: %v", js, err)
	}
}

// A command that outlives its timeout is killed with what it started,
// retried, and given up on; a failing exit status is retried too.
func TestCommandTimeoutAndExit(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "child-survived")
	slow := writeScript(t, dir, "slow.sh", "#!/bin/sh\n(sleep 3; touch "+marker+") &\nsleep 30\n")
	fail := writeScript(t, dir, "fail.sh", "#!/bin/sh\necho broken >&2\nexit 3\n")
	hs := hookCfg("slow")
	hs.Command = &config.Command{Argv: []string{slow}}
	hs.Timeout, hs.Retries = config.Duration(100*time.Millisecond), 1
	hf := hookCfg("fail")
	hf.Command = &config.Command{Argv: []string{fail}}
	hf.Retries = 2
	d, reg, _ := start(t, hs, hf)
	d.Fire(sampleChange())
	waitFor(t, "slow command given up", func() bool { return deliveries(reg, "slow", "failed") == 1 })
	waitFor(t, "failing command given up", func() bool { return deliveries(reg, "fail", "failed") == 1 })
	if n := deliveries(reg, "fail", "retry"); n != 2 {
		t.Errorf("failing command retried %v times, want 2", n)
	}
	if n := deliveries(reg, "slow", "ok") + deliveries(reg, "fail", "ok"); n != 0 {
		t.Errorf("%v deliveries counted ok", n)
	}
	// The process group was killed: the background child never gets to
	// touch its marker. Give it the time it would have needed.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("the timed-out command's child survived the kill")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMatch(t *testing.T) {
	base := config.Hook{On: []string{gslb.ChangeWritePrimary, gslb.ChangeEndpointState, gslb.ChangeRegionDrain}}
	with := func(f func(*config.Hook)) config.Hook {
		h := base
		f(&h)
		return h
	}
	wp := sampleChange()
	es := gslb.Change{Kind: gslb.ChangeEndpointState, Name: "app.gslb.test.", Endpoint: "eu-west@app.gslb.test", Region: "eu-west", From: "ready", To: "down"}
	rd := gslb.Change{Kind: gslb.ChangeRegionDrain, Region: "eu-west", To: "drained"}
	for _, tc := range []struct {
		name string
		h    config.Hook
		c    gslb.Change
		want bool
	}{
		{"all kinds", base, es, true},
		{"kind filtered", with(func(h *config.Hook) { h.On = []string{gslb.ChangeWritePrimary} }), es, false},
		{"name matches", with(func(h *config.Hook) { h.Names = []string{"db.gslb.test."} }), wp, true},
		{"name does not", with(func(h *config.Hook) { h.Names = []string{"db.gslb.test."} }), es, false},
		{"names do not filter region drains", with(func(h *config.Hook) { h.Names = []string{"db.gslb.test."} }), rd, true},
		{"endpoint pattern", with(func(h *config.Hook) { h.Endpoints = []string{"*@app.gslb.test"} }), es, true},
		{"endpoint pattern misses", with(func(h *config.Hook) { h.Endpoints = []string{"us-*"} }), es, false},
		{"state filter", with(func(h *config.Hook) { h.States = []string{"down"} }), es, true},
		{"state filter misses", with(func(h *config.Hook) { h.States = []string{"ready"} }), es, false},
		{"state filter leaves other kinds", with(func(h *config.Hook) { h.States = []string{"ready"} }), wp, true},
		{"region: write primary from", with(func(h *config.Hook) { h.Regions = []string{"us-east"} }), wp, true},
		{"region: drain", with(func(h *config.Hook) { h.Regions = []string{"eu-west"} }), rd, true},
		{"region misses", with(func(h *config.Hook) { h.Regions = []string{"ap-southeast"} }), rd, false},
	} {
		if got := Match(tc.h, tc.c); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func writeScript(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// BenchmarkWebhookLatency measures, in process, the time from Fire (with
// the change stamped now, as the publisher does) to the signed request's
// arrival at a loopback receiver.
func BenchmarkWebhookLatency(b *testing.B) {
	arrived := make(chan time.Time, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- time.Now()
	}))
	defer srv.Close()
	h := hookCfg("bench")
	h.Webhook = &config.Webhook{URL: srv.URL, Secret: []byte("s3cret")}
	d, err := New(Options{Hooks: []config.Hook{h}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		c := sampleChange()
		c.At, c.Term = time.Now(), uint64(i)
		d.Fire(c)
		total += (<-arrived).Sub(c.At)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-decision-to-webhook/op")
}

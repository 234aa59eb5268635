package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// Options configure a Dispatcher.
type Options struct {
	// Hooks are the configured hooks (config.Config.Hooks).
	Hooks []config.Hook
	// Logger defaults to zap.NewNop().
	Logger *zap.Logger
	// Registerer receives the gslbd_hooks_* metrics; nil skips them.
	Registerer prometheus.Registerer
	// Client sends webhooks; nil uses a client that does not follow
	// redirects (a redirect would re-send the body unsigned elsewhere).
	Client *http.Client
	// Now is the clock for the delivery latency; nil means time.Now.
	Now func() time.Time
}

// Dispatcher queues events per hook and delivers them.
type Dispatcher struct {
	log    *zap.Logger
	met    *metrics
	now    func() time.Time
	client *http.Client
	hooks  []*hook
	// sleep waits between retries; tests make it instant. It returns
	// false when ctx ended first.
	sleep func(ctx context.Context, d time.Duration) bool
}

type hook struct {
	cfg   config.Hook
	queue chan gslb.Change
}

// New validates nothing (the config step did) and returns a Dispatcher
// that queues from now on and delivers once Run runs.
func New(o Options) (*Dispatcher, error) {
	met, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("hooks: metrics: %w", err)
	}
	d := &Dispatcher{log: o.Logger, met: met, now: o.Now, client: o.Client, sleep: sleepCtx}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.client == nil {
		d.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for _, h := range o.Hooks {
		if h.Queue < 1 {
			return nil, fmt.Errorf("hooks: hook %s: queue must be at least 1", h.Name)
		}
		d.hooks = append(d.hooks, &hook{cfg: h, queue: make(chan gslb.Change, h.Queue)})
		d.met.queued.WithLabelValues(h.Name).Set(0)
	}
	return d, nil
}

// Fire queues c (with its ID set) for every hook whose filters it
// matches. It never blocks: when a hook's queue is full, the event is
// dropped for that hook, logged and counted.
func (d *Dispatcher) Fire(c gslb.Change) {
	if d == nil {
		return
	}
	c = c.WithID()
	for _, h := range d.hooks {
		if !Match(h.cfg, c) {
			continue
		}
		select {
		case h.queue <- c:
			d.met.queued.WithLabelValues(h.cfg.Name).Inc()
		default:
			d.met.deliveries.WithLabelValues(h.cfg.Name, "dropped").Inc()
			d.log.Error("hook queue full, event dropped", zap.String("hook", h.cfg.Name),
				zap.String("event", c.ID), zap.String("kind", c.Kind), zap.Int("queue", cap(h.queue)))
		}
	}
}

// Match reports whether c passes h's filters (see config.Hook).
func Match(h config.Hook, c gslb.Change) bool {
	if !slices.Contains(h.On, c.Kind) {
		return false
	}
	if len(h.Names) > 0 && c.Kind != gslb.ChangeRegionDrain && !slices.Contains(h.Names, c.Name) {
		return false
	}
	if c.Kind == gslb.ChangeEndpointState {
		if len(h.Endpoints) > 0 && !slices.ContainsFunc(h.Endpoints, func(p string) bool {
			ok, _ := path.Match(p, c.Endpoint)
			return ok
		}) {
			return false
		}
		if len(h.States) > 0 && !slices.Contains(h.States, c.To) {
			return false
		}
	}
	if len(h.Regions) > 0 {
		regions := []string{c.Region}
		if c.Kind == gslb.ChangeWritePrimary {
			regions = []string{c.From, c.To}
		}
		if !slices.ContainsFunc(regions, func(r string) bool { return r != "" && slices.Contains(h.Regions, r) }) {
			return false
		}
	}
	return true
}

// Run delivers queued events until ctx is done; events still queued then
// are dropped (and counted). It returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, h := range d.hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.worker(ctx, h)
		}()
	}
	wg.Wait()
	for _, h := range d.hooks {
		for n := len(h.queue); n > 0; n-- {
			<-h.queue
			d.met.queued.WithLabelValues(h.cfg.Name).Dec()
			d.met.deliveries.WithLabelValues(h.cfg.Name, "dropped").Inc()
		}
	}
	return nil
}

func (d *Dispatcher) worker(ctx context.Context, h *hook) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-h.queue:
			d.met.queued.WithLabelValues(h.cfg.Name).Dec()
			d.deliver(ctx, h, c)
		}
	}
}

// deliver makes up to 1+Retries attempts with a growing back-off.
func (d *Dispatcher) deliver(ctx context.Context, h *hook, c gslb.Change) {
	log := d.log.With(zap.String("hook", h.cfg.Name), zap.String("event", c.ID), zap.String("kind", c.Kind))
	backoff := h.cfg.Backoff.D()
	for attempt := 1; ; attempt++ {
		start := d.now()
		err := d.attempt(ctx, h, c, attempt)
		d.met.attemptDuration.WithLabelValues(h.cfg.Name).Observe(d.now().Sub(start).Seconds())
		if err == nil {
			latency := d.now().Sub(c.At)
			d.met.deliveries.WithLabelValues(h.cfg.Name, "ok").Inc()
			d.met.latency.WithLabelValues(h.cfg.Name).Observe(latency.Seconds())
			log.Info("hook delivered", zap.Int("attempt", attempt), zap.Duration("since_change", latency))
			return
		}
		if ctx.Err() != nil {
			d.met.deliveries.WithLabelValues(h.cfg.Name, "dropped").Inc()
			log.Warn("hook delivery stopped by shutdown", zap.Int("attempt", attempt), zap.Error(err))
			return
		}
		if attempt > h.cfg.Retries {
			d.met.deliveries.WithLabelValues(h.cfg.Name, "failed").Inc()
			log.Error("hook delivery failed, giving up", zap.Int("attempts", attempt), zap.Error(err))
			return
		}
		d.met.deliveries.WithLabelValues(h.cfg.Name, "retry").Inc()
		log.Warn("hook attempt failed, will retry", zap.Int("attempt", attempt), zap.Duration("retry_in", backoff), zap.Error(err))
		if !d.sleep(ctx, backoff) {
			d.met.deliveries.WithLabelValues(h.cfg.Name, "dropped").Inc()
			return
		}
		backoff = min(backoff*2, h.cfg.MaxBackoff.D())
	}
}

func (d *Dispatcher) attempt(ctx context.Context, h *hook, c gslb.Change, attempt int) error {
	actx, cancel := context.WithTimeout(ctx, h.cfg.Timeout.D())
	defer cancel()
	switch {
	case h.cfg.Webhook != nil:
		return d.post(actx, h.cfg.Webhook, c, attempt)
	case h.cfg.Command != nil:
		return runCommand(actx, h.cfg.Command, c, attempt)
	}
	return errors.New("hook has neither webhook nor command")
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type metrics struct {
	deliveries      *prometheus.CounterVec
	queued          *prometheus.GaugeVec
	latency         *prometheus.HistogramVec
	attemptDuration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslbd_hooks_deliveries_total",
			Help: "Hook delivery outcomes: ok, retry (an attempt failed and will be repeated), failed (gave up after the retries), dropped (queue full or shutdown).",
		}, []string{"hook", "result"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gslbd_hooks_queued_events",
			Help: "Events waiting in a hook's queue.",
		}, []string{"hook"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gslbd_hooks_delivery_latency_seconds",
			Help:    "From the change's decision to its successful delivery, retries included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"hook"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gslbd_hooks_attempt_duration_seconds",
			Help:    "Duration of one delivery attempt (a webhook request or a command run).",
			Buckets: prometheus.DefBuckets,
		}, []string{"hook"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.deliveries, m.queued, m.latency, m.attemptDuration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

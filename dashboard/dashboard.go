package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/gslb"
)

// ErrUnknownEndpoint is what Options.Drain returns (possibly wrapped) for
// an endpoint ID the node does not know; the API answers it with 404.
var ErrUnknownEndpoint = errors.New("dashboard: unknown endpoint")

// ErrUnknownRegion is what Dev.SetRegion returns (possibly wrapped) for a
// region without a simulated backend; the API answers it with 404.
var ErrUnknownRegion = errors.New("dashboard: unknown region")

// Source yields the current Snapshot; *gslb.Store satisfies it. Load may
// return nil before the first Snapshot is published.
type Source interface {
	Load() *gslb.Snapshot
}

// Dev controls the simulated backends of -dev mode. Implementations must be
// safe for concurrent use: HTTP handlers call them from many goroutines.
type Dev interface {
	// SetRegion changes the simulated backend of one region. A nil
	// argument leaves that setting unchanged. An unknown region returns
	// ErrUnknownRegion.
	SetRegion(region string, alive *bool, lagSeconds *float64) error
	// Regions lists every simulated backend's current settings.
	Regions() []DevRegion
}

// DevRegion is the current setting of one region's simulated backend.
type DevRegion struct {
	Region     string  `json:"region"`
	Alive      bool    `json:"alive"`
	LagSeconds float64 `json:"lag_seconds"`
}

// Options configures the handler returned by New. Only Source is required.
type Options struct {
	// Source gives the Snapshot every request reads (loaded once per request).
	Source Source
	// Gates lists the unmet readiness gates; empty means ready. Nil means
	// no gates beyond "a Snapshot is loaded".
	Gates func() []string
	// Gatherer backs /metrics; nil answers 404 there.
	Gatherer prometheus.Gatherer
	// Token returns the current admin token. Nil or "" makes admin actions
	// answer 403. It is called per request so a reload can change it.
	Token func() string
	// Drain applies (and gossips) a drain or undrain of one endpoint
	// (d.Endpoint) or of a whole region (d.Region), with the operator's
	// window and reason; the caller stamps At and By. It returns
	// ErrUnknownEndpoint for an ID it does not know. Nil makes the drain
	// routes answer 501.
	Drain func(d gslb.Drain) error
	// Audit, when set, records every admin request (allowed or refused)
	// and backs GET /api/v1/audit.
	Audit Audit
	// SetActive makes region the active region of a write name on every
	// node (an operator's manual failback or failover). Nil makes the
	// route answer 501.
	SetActive func(name, region string) error
	// Cluster optionally returns a JSON-marshalable cluster status shown
	// under "cluster" in /api/v1/state.
	Cluster func() any
	// Reload optionally returns the last config reload's outcome (time,
	// result, errors), shown under "reload" in /api/v1/state.
	Reload func() any
	// Dev is non-nil only in -dev mode; it enables /api/v1/dev/regions.
	Dev Dev
	// Logger receives admin actions and internal errors; nil discards.
	Logger *zap.Logger
	// Registerer receives gslbd_http_requests_total; nil skips metrics.
	Registerer prometheus.Registerer
	// Hosts returns the host names the handler answers to besides IP
	// addresses and localhost (see AllowHosts); nil means none.
	Hosts func() []string
}

//go:embed static/index.html
var static embed.FS

// maxBody bounds request bodies; the API only takes tiny JSON objects.
const maxBody = 64 << 10

type server struct {
	o        Options
	log      *zap.Logger
	requests *prometheus.CounterVec
	index    []byte
	// csrf refuses state-changing requests that a browser sends on
	// behalf of another site (Sec-Fetch-Site/Origin): the -dev routes take
	// no token, and a simple cross-site form POST needs no preflight.
	// Requests without those headers (curl, scripts) pass.
	csrf *http.CrossOriginProtection
}

// New returns the HTTP handler serving the dashboard page, the health
// endpoints, /metrics and the JSON API. See the package documentation for
// the routes.
func New(o Options) http.Handler {
	s := &server{o: o, log: o.Logger, csrf: http.NewCrossOriginProtection()}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	// The embedded file is part of the binary; failing to read it is a
	// build defect, so the page answers 500 rather than the process dying.
	s.index, _ = static.ReadFile("static/index.html")
	s.requests = registerCounter(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gslbd_http_requests_total",
		Help: "HTTP requests served by the dashboard/API, by route pattern and status code.",
	}, []string{"path", "code"}), s.log)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.HandleFunc("GET /livez", s.handleLivez)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /api/v1/state", s.handleState)
	mux.HandleFunc("GET /api/v1/explain", s.handleExplain)
	mux.HandleFunc("POST /api/v1/endpoints/{id}/drain", s.audited(s.handleDrain(true)))
	mux.HandleFunc("POST /api/v1/endpoints/{id}/undrain", s.audited(s.handleDrain(false)))
	mux.HandleFunc("POST /api/v1/regions/{region}/drain", s.audited(s.handleRegionDrain(true)))
	mux.HandleFunc("POST /api/v1/regions/{region}/undrain", s.audited(s.handleRegionDrain(false)))
	mux.HandleFunc("POST /api/v1/names/{name}/active", s.audited(s.handleSetActive))
	mux.HandleFunc("GET /api/v1/audit", s.handleAudit)
	if o.Dev != nil {
		mux.HandleFunc("GET /api/v1/dev/regions", s.handleDevList)
		mux.HandleFunc("POST /api/v1/dev/regions/{region}", s.handleDevSet)
	}
	return s.instrument(mux)
}

// DevAPI serves only the simulated-backend routes (GET /api/v1/dev/regions,
// POST /api/v1/dev/regions/{region}) for a Dev that runs outside a node:
// "gslbd simulate" backs the cluster example, where no node owns them.
func DevAPI(dev Dev, log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	s := &server{o: Options{Dev: dev}, log: log, csrf: http.NewCrossOriginProtection()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/dev/regions", s.handleDevList)
	mux.HandleFunc("POST /api/v1/dev/regions/{region}", s.handleDevSet)
	return AllowHosts(s.crossOrigin(mux), nil)
}

// crossOrigin answers 403 to a cross-site browser request that could
// change state, before it reaches h.
func (s *server) crossOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.csrf.Check(r); err != nil {
			writeError(w, http.StatusForbidden, "cross-origin request refused: use the dashboard served by this node, or a client that is not a browser")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// registerCounter registers c, reusing an identical collector that is
// already registered (New may be called again with the same registry, e.g.
// in tests). A nil registerer still returns a usable, unregistered counter.
func registerCounter(reg prometheus.Registerer, c *prometheus.CounterVec, log *zap.Logger) *prometheus.CounterVec {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		log.Warn("dashboard metrics not registered", zap.Error(err))
	}
	return c
}

// statusRecorder remembers the status code for the request counter.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument counts requests by route pattern (never the raw path, which
// would let clients create unbounded label values), sets defensive headers,
// refuses cross-site state changes and turns a handler panic into a 500
// instead of a dropped connection.
func (s *server) instrument(mux *http.ServeMux) http.Handler {
	// Foreign Host names are refused first (and counted as path "other",
	// code 421): nothing else of a rebound request should run.
	next := AllowHosts(s.crossOrigin(mux), s.o.Hosts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("dashboard handler panic", zap.String("path", r.URL.Path), zap.Any("panic", v))
				if rec.code == 0 {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			pattern := r.Pattern
			if pattern == "" {
				pattern = "other"
			}
			s.requests.WithLabelValues(pattern, strconv.Itoa(code)).Inc()
		}()
		next.ServeHTTP(rec, r)
	})
}

func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	if len(s.index) == 0 {
		http.Error(w, "dashboard page missing from the binary", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
	_, _ = w.Write(s.index)
}

func (s *server) handleLivez(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.o.Source == nil || s.o.Source.Load() == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("no snapshot loaded\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// unmetGates is the readiness check shared by /readyz and /api/v1/state.
func (s *server) unmetGates() []string {
	var gates []string
	if s.o.Source == nil || s.o.Source.Load() == nil {
		gates = append(gates, "config not loaded")
	}
	if s.o.Gates != nil {
		for _, g := range s.o.Gates() {
			if g = strings.TrimSpace(g); g != "" {
				gates = append(gates, g)
			}
		}
	}
	return gates
}

func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	gates := s.unmetGates()
	if len(gates) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(strings.Join(gates, "\n") + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// authorize checks the Bearer token and writes the error answer itself;
// it returns false when the request must stop.
func (s *server) authorize(w http.ResponseWriter, r *http.Request) bool {
	want := ""
	if s.o.Token != nil {
		want = s.o.Token()
	}
	if want == "" {
		writeError(w, http.StatusForbidden, "admin actions are disabled: no admin token is configured")
		return false
	}
	got, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gslbd"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <admin token>")
		return false
	}
	// Comparing fixed-size digests keeps the comparison constant-time even
	// in the token's length.
	gh, wh := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(gh[:], wh[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gslbd", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "wrong admin token")
		return false
	}
	return true
}

// bearer extracts the token of an "Authorization: Bearer <token>" header;
// the scheme is case-insensitive (RFC 6750 / RFC 9110).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Package health probes this node's view of every probe target (the
// probes one or more endpoints share) and turns the results into
// gslb.Observations for the cluster layer.
//
// It owns:
//   - liveness probers: HTTP/HTTPS (method, Host header, expected statuses
//     (default any 2xx), body substring within the first 64 KiB, TLS verify
//     on by default, tls_skip_verify, ca_file; redirects are not followed)
//     and TCP connect;
//   - lag sources: an HTTP JSON field (dotted path; a decimal segment
//     indexes an array; only JSON numbers count, a string is an error),
//     a Prometheus text-format gauge, untyped or counter sample (label
//     matchers; when several samples match, the largest lag wins, because
//     the worst reading is the safe one), and a PostgreSQL server over
//     pgx (primary: lag 0; standby: 0 when everything received is
//     replayed, else the age of the last replayed transaction; a small
//     negative age from clock skew reads as 0);
//   - the per-endpoint state machine (Machine), pure and driven by the
//     time passed in with each result;
//   - the Manager, which schedules probes, feeds the machines, logs
//     transitions and emits observations; and the gslbd_health_* metrics.
//
// States (ARCHITECTURE.md): an endpoint is Unknown (never emitted) until
// its first liveness result. While its liveness is unknown, one failure
// makes it Down at once and Rise successes make it alive (it is
// Recovering until then); afterwards Fall consecutive failures make it
// Down from any state and Rise consecutive successes make it alive again.
// Alive without a lag source is Ready. Alive with one is Recovering until
// every lag read has been good (0 <= lag < max_lag) for the whole hold,
// counted from the later of the first good read of the run and the moment
// it became alive; a failed read, a negative or a too-high lag restarts
// the hold and never counts as ready. A Ready endpoint goes back to
// Recovering after Fall (of its liveness probe; 3 without one)
// consecutive bad lag reads, so one lost read does not flap it. Drains are
// not handled here: the cluster layer applies them on top.
//
// A probe or source whose settings are unusable (timeout >= interval,
// rise/fall < 1, bad URL or DSN, unreadable CA file) is a config error
// from checkProbe/checkReadiness; if one reaches a Manager anyway its
// endpoint stays Down (or never Ready) with the reason in the log and
// the observation.
//
// A probe or lag read that could not run for a local reason (EMFILE,
// ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL: this node is out of descriptors,
// buffers or ports) is no result at all: it changes no state and emits no
// observation, so a node that runs out of file descriptors never fails a
// region over. Such faults are counted (gslbd_probe_errors_total) and
// logged at most every 10s; Manager.Impaired reports when every probe
// fails that way, and the node is then not ready (localfault.go).
//
// Imports: config, gslb and the leaf connlimit only of ours; never dns,
// cluster, dashboard or cmd.
//
// Sharing: the Manager probes probe targets, not endpoints. Endpoints
// whose liveness and readiness settings are identical have one probe
// target ID (config.ProbeID) and share one target: one prober, one lag
// source, one Machine and one Observation (Observation.Target), as
// gdnsd's service_types monitor an address once however many resources
// use it. The endpoints follow their target's agreed state in gslb.
// Metrics count real probes and are labelled by target. Endpoints
// without probes have no target at all: no heap entry, no observation.
//
// Concurrency: Manager.Run runs one scheduler: a timer heap with an entry
// per target and probe kind, and a pool of at most 64 worker goroutines,
// started as the load needs them (sched.go). A job is out of the heap
// while it runs and each probe has its own timeout, so a target has at
// most one probe of each kind in flight and a slow probe delays the next
// instead of overlapping it. The first probe comes at a random offset
// within the interval or the first 250 ms, whichever is shorter (a node
// answers GSLB names only after every target's first probe), then every
// interval ±10% (fast_interval after a
// failed probe). An HTTP probe is one request on a connection of its own,
// dialled, written, read and closed by its worker without http.Transport
// (httpprobe.go), so a hanging server holds only its own target's probe
// and one worker until its timeout. A target's Machine is guarded by its own mutex; Emit calls are serialised by one manager-wide mutex,
// so they are never concurrent and arrive in the order they were made; SetTargets retires
// removed or changed targets under the same mutex, so once it returns no
// result of theirs is emitted or counted in a metric.
// Observations leave Node and Seq empty: the cluster stamps them.
// SetTargets and Snapshot may be called from any goroutine; Run returns
// only after every goroutine it started has exited.
package health

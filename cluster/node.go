package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/connlimit"
	"github.com/gslbd/gslbd/gslb"
)

// Defaults for settings a config left at zero (config.Load normally fills
// them from the probe intervals).
const (
	defaultRefresh       = 5 * time.Second
	defaultIsolationHold = 5 * time.Minute
	// maxSkew is how far in the future a peer's timestamp may be before
	// the record is dropped as coming from a clock that jumped.
	maxSkew = time.Minute
	// leaveTimeout bounds the graceful leave on stop.
	leaveTimeout   = 3 * time.Second
	joinBackoffMin = 500 * time.Millisecond
	// minRecomputeGap rate-limits View computations triggered by changes.
	minRecomputeGap = 25 * time.Millisecond
	joinBackoffMax  = 30 * time.Second
	// maxDrains caps the drain table against a buggy peer.
	maxDrains = 10000
	// maxActives caps the write-record table likewise (the cluster does
	// not know which GSLB names exist, so it cannot refuse others).
	maxActives = 10000
)

// Options configure a Node. Node and Config are required; the rest may
// be zero.
type Options struct {
	// Node is this node's name, unique in the cluster.
	Node string
	// Config is the cluster section of the config.
	Config config.Cluster
	// Targets lists every configured probe target ID (config.ProbeID):
	// observations are kept and agreed per target, however many
	// endpoints share one.
	Targets []string
	// Endpoints is the number of configured endpoints. A full state sync
	// carries at most a drain record per endpoint and a write record per
	// name, so it sizes the cap on gossip streams.
	Endpoints int
	// Logger defaults to zap.NewNop().
	Logger *zap.Logger
	// Registerer receives the gslbd_cluster_* metrics; nil skips them.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnView receives every newly computed View, from one goroutine (Run's),
	// never concurrently: whenever the View may have changed, and at least
	// every Refresh. It must not block for long; it should hand the View
	// to the publisher.
	OnView func(gslb.View)
	// Transport replaces memberlist's UDP/TCP transport (tests wrap it to
	// cut a node off). Its bind address wins over Config.Bind.
	Transport memberlist.Transport
	// Tune adjusts memberlist's configuration after gslbd has set it up
	// (tests and benchmarks shorten its intervals for loopback). nil keeps
	// memberlist's LAN defaults.
	Tune func(*memberlist.Config)
	// ConnLimits cap the gossip TCP streams open at once, in total and per
	// source; zero values mean no cap.
	ConnLimits connlimit.Limits
}

// RestartError reports settings that a Reload could not apply because
// they are only read at start; everything else was applied.
type RestartError struct {
	// Fields are config paths, e.g. "cluster.bind".
	Fields []string
}

// Error lists the settings that need a restart.
func (e *RestartError) Error() string {
	return "cluster: changes need a restart: " + strings.Join(e.Fields, ", ")
}

// Status is the node's cluster state for /readyz and the API.
type Status struct {
	Node string `json:"node"`
	// Solo: configured without cluster.bind; no gossip at all.
	Solo bool `json:"solo"`
	// Joined: at least one other member is alive.
	Joined bool `json:"joined"`
	// Alone: clustered, but no other member is alive (no seed reachable
	// yet); the node serves on its own observations and keeps trying.
	Alone bool `json:"alone"`
	// Synced: the node has merged a peer's full state, or has nobody to
	// sync with (solo, or alone after a failed join round).
	Synced   bool `json:"synced"`
	Isolated bool `json:"isolated"`
	// Expect is the cluster size used for the isolation rule.
	Expect  int           `json:"expect"`
	Alive   int           `json:"alive"`
	Members []gslb.Member `json:"members"`
	// Addr is the memberlist address ("" when solo or not running).
	Addr             string `json:"addr"`
	MessagesSent     uint64 `json:"messages_sent"`
	MessagesReceived uint64 `json:"messages_received"`
	MessagesDropped  uint64 `json:"messages_dropped"`
}

type memberState uint8

const (
	memberAlive memberState = iota
	memberDead
	memberLeft
)

var memberStateNames = [...]string{"alive", "dead", "left"}

type memberRec struct {
	addr  string
	state memberState
	// leaving: the member announced a graceful leave in its metadata, so
	// its coming departure is a "left", not a "dead". memberlist's leave
	// event does not tell the two apart.
	leaving bool
}

// metaLeaving is our node metadata while we leave gracefully.
const metaLeaving byte = 1

// Node is one gslbd cluster member: it holds the latest observation of
// every node for every probe target and the drains, gossips its own, and
// computes the agreed View.
type Node struct {
	name      string
	log       *zap.Logger
	now       func() time.Time
	onView    func(gslb.View)
	transport memberlist.Transport
	tune      func(*memberlist.Config)
	guard     *guard
	met       *metrics
	solo      bool
	keyring   *memberlist.Keyring // nil without keys (solo)
	queue     *memberlist.TransmitLimitedQueue
	wake      chan struct{} // cap 1: a recompute is wanted

	// numAlive feeds the broadcast queue's retransmit limit without
	// taking mu (memberlist calls it from its gossip goroutine).
	numAlive atomic.Int32
	sent     atomic.Uint64
	received atomic.Uint64
	dropped  atomic.Uint64
	view     atomic.Pointer[gslb.View]
	ran      atomic.Bool
	// skipLeave makes Run stop like a crash (no leave message); tests only.
	skipLeave atomic.Bool
	// joinMin and joinMax bound the join retry backoff; joinMax is also
	// how often a joined node checks that it still has a majority. Fixed
	// at New; tests shorten them before Run.
	joinMin, joinMax time.Duration
	leaving          atomic.Bool // NodeMeta says metaLeaving

	mu        sync.Mutex
	cfg       config.Cluster
	quorum    gslb.Quorum
	targets   []string
	targetSet map[string]struct{}
	obs       map[string]map[string]gslb.Observation // node -> probe target
	drains    *lwwTable[gslb.Drain]                  // by gslb.Drain.Key: endpoint or region
	writes    *writeTable                            // by GSLB name
	seq       uint64
	members   map[string]memberRec
	synced    bool
	ml        *memberlist.Memberlist
	// addr is memberlist's address, read once when gossip starts:
	// memberlist rewrites its local node (UpdateNode on leave) under its
	// own lock, so reading it later through LocalNode would race.
	addr string
}

// New validates o and returns a Node that does nothing until Run. With
// Config.Bind empty the node is solo: no memberlist, and the View is
// agreed over its own observations only.
func New(o Options) (*Node, error) {
	if o.Node == "" {
		return nil, errors.New("cluster: node name is empty")
	}
	if len(o.Node) > maxNodeLen {
		return nil, fmt.Errorf("cluster: node name longer than %d bytes", maxNodeLen)
	}
	// o.Config is resolved and validated by config.Prepare: the quorum
	// rule is parsed and the keys decoded there, not here.
	cfg := o.Config
	keys := cfg.Secrets
	solo := cfg.Bind == ""
	met, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("cluster: metrics: %w", err)
	}
	n := &Node{
		name:      o.Node,
		log:       o.Logger,
		now:       o.Now,
		onView:    o.OnView,
		transport: o.Transport,
		tune:      o.Tune,
		guard:     newGuard(o),
		met:       met,
		solo:      solo,
		wake:      make(chan struct{}, 1),
		cfg:       cfg,
		quorum:    quorumOf(cfg.Rule),
		obs:       map[string]map[string]gslb.Observation{o.Node: {}},
		drains:    newDrainTable(),
		writes:    newWriteTable(),
		members:   map[string]memberRec{},
		synced:    solo,
		joinMin:   joinBackoffMin,
		joinMax:   joinBackoffMax,
	}
	if n.log == nil {
		n.log = zap.NewNop()
	}
	if n.now == nil {
		n.now = time.Now
	}
	n.setTargetsLocked(o.Targets)
	if len(keys) > 0 {
		if n.keyring, err = memberlist.NewKeyring(keys, keys[0]); err != nil {
			return nil, fmt.Errorf("cluster: keyring: %w", err)
		}
	}
	n.numAlive.Store(1)
	n.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(n.numAlive.Load()) },
		RetransmitMult: memberlist.DefaultLANConfig().RetransmitMult,
	}
	return n, nil
}

func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", ps, err)
	}
	return host, int(p), nil
}

// Run starts gossip (unless solo), joins the seeds and recomputes the View
// until ctx is done; then it leaves the cluster (bounded by a timeout),
// shuts memberlist down and returns after its goroutines have exited. It
// returns an error only when memberlist cannot start (e.g. the port is
// taken). Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	if !n.ran.CompareAndSwap(false, true) {
		return errors.New("cluster: Run called twice")
	}
	if n.solo {
		n.log.Info("cluster: solo node, agreeing over own observations only", zap.String("node", n.name))
		n.loop(ctx)
		return nil
	}
	ml, err := n.createMemberlist()
	if err != nil {
		return err
	}
	// Never call memberlist under mu: its event callbacks take mu while
	// holding memberlist's node lock.
	addr := ml.LocalNode().Address()
	n.mu.Lock()
	n.ml, n.addr = ml, addr
	seeds := n.otherSeeds(addr)
	n.mu.Unlock()
	n.log.Info("cluster: gossip started", zap.String("node", n.name),
		zap.String("addr", addr), zap.Strings("seeds", seeds),
		zap.Bool("encrypted", n.keyring != nil))

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.joinLoop(ctx, ml, seeds)
	}()
	n.loop(ctx)
	wg.Wait()

	if !n.skipLeave.Load() {
		n.leaving.Store(true)
		if err := ml.UpdateNode(leaveTimeout / 2); err != nil {
			n.log.Debug("cluster: announce leave", zap.Error(err))
		}
		if err := ml.Leave(leaveTimeout); err != nil {
			n.log.Warn("cluster: leave", zap.Error(err))
		}
	}
	if err := ml.Shutdown(); err != nil {
		n.log.Warn("cluster: shutdown", zap.Error(err))
	}
	n.log.Info("cluster: left", zap.String("node", n.name))
	return nil
}

func (n *Node) createMemberlist() (*memberlist.Memberlist, error) {
	n.mu.Lock()
	cfg := n.cfg
	n.mu.Unlock()
	conf := memberlist.DefaultLANConfig()
	conf.Name = n.name
	host, port, err := splitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: cluster.bind: %w", err)
	}
	conf.BindAddr, conf.BindPort = host, port
	conf.AdvertiseAddr, conf.AdvertisePort = "", port
	if cfg.Advertise != "" {
		ah, ap, err := splitHostPort(cfg.Advertise)
		if err != nil {
			return nil, fmt.Errorf("cluster: cluster.advertise: %w", err)
		}
		conf.AdvertiseAddr, conf.AdvertisePort = ah, ap
	}
	// A full sync every 15s repairs whatever gossip missed, sooner than
	// memberlist's 30s default and still cheap for a handful of nodes.
	conf.PushPullInterval = 15 * time.Second
	conf.Keyring = n.keyring
	conf.GossipVerifyIncoming = true
	conf.GossipVerifyOutgoing = true
	conf.Delegate = &delegate{n}
	conf.Events = &delegate{n}
	conf.Logger = newMemberlistLogger(n.log.Named("memberlist"))
	conf.Transport = n.transport
	conf.CIDRsAllowed = allowedNets(cfg.Allow, conf.AdvertiseAddr, conf.BindAddr)
	if n.tune != nil {
		n.tune(conf)
	}
	if conf.Transport, err = n.guard.transport(conf.Transport, conf); err != nil {
		return nil, fmt.Errorf("cluster: start gossip on %s: %w", cfg.Bind, err)
	}
	ml, err := memberlist.Create(conf)
	if err != nil {
		return nil, fmt.Errorf("cluster: start gossip on %s: %w", cfg.Bind, err)
	}
	return ml, nil
}

// otherSeeds drops our own address from the seed list, so one config
// can list every node.
func (n *Node) otherSeeds(self string) []string {
	var out []string
	for _, s := range n.cfg.Seeds {
		if s == self || s == n.cfg.Bind || (n.cfg.Advertise != "" && s == n.cfg.Advertise) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// joinLoop joins the seeds, retrying with backoff until one answers or a
// peer joins us. After the first failed round the node counts as synced:
// there is nobody to take state from, so it serves alone on its own
// observations (Status.Alone says so) and keeps trying.
//
// It keeps running after the first join: memberlist stops talking to a
// member once it has been dead for GossipToTheDeadTime, so two sides of a
// partition that lasted longer never find each other again on their own.
// Whenever this node is alone or isolated it joins the seeds again (with
// the same backoff), which heals the cluster once the network does.
func (n *Node) joinLoop(ctx context.Context, ml *memberlist.Memberlist, seeds []string) {
	if len(seeds) == 0 {
		n.setSynced()
		return
	}
	backoff := n.joinMin
	joined := false
	for attempt := 1; ctx.Err() == nil; attempt++ {
		need := n.needJoin()
		if need {
			cnt, err := n.joinSeeds(ctx, ml, seeds)
			if ctx.Err() != nil {
				return
			}
			need = n.needJoin()
			switch {
			case cnt > 0:
				n.setSynced() // Join's push/pull has merged by now
				n.poke()
				lvl, msg := zap.InfoLevel, "cluster: joined"
				if joined {
					msg = "cluster: rejoined"
					if need { // reached a seed, but most members are still gone
						lvl = zap.DebugLevel
					}
				}
				joined = true
				if ce := n.log.Check(lvl, msg); ce != nil {
					ce.Write(zap.Int("seeds_reached", cnt), zap.Int("attempt", attempt))
				}
			default:
				lvl := zap.DebugLevel
				if attempt == 1 {
					lvl = zap.WarnLevel
					n.setSynced()
					n.poke()
				}
				if ce := n.log.Check(lvl, "cluster: no seed reachable, serving alone"); ce != nil {
					ce.Write(zap.Strings("seeds", seeds), zap.Int("attempt", attempt),
						zap.Duration("retry_in", backoff), zap.Error(err))
				}
			}
		}
		// Back off while joining does not help (seeds unreachable, or the
		// missing members are really gone), so a node that lost most of
		// its peers for good does not push/pull in a tight loop.
		wait := n.joinMax // all well: look again later
		if need {
			wait = backoff
			backoff = min(backoff*2, n.joinMax)
		} else {
			backoff = n.joinMin
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// needJoin: no other member is alive, or too few are for a majority.
func (n *Node) needJoin() bool {
	n.mu.Lock()
	members, expect := n.membersLocked()
	n.mu.Unlock()
	alive := 0
	for _, m := range members {
		if m.Alive {
			alive++
		}
	}
	return alive <= 1 || alive*2 < expect
}

// joinSeeds joins the seeds one at a time so that a stop waits for at
// most one push/pull in flight (memberlist's Join takes no context and
// each unreachable seed can hold it for TCPTimeout).
func (n *Node) joinSeeds(ctx context.Context, ml *memberlist.Memberlist, seeds []string) (int, error) {
	total := 0
	var errs []error
	for _, s := range seeds {
		if ctx.Err() != nil {
			break
		}
		cnt, err := ml.Join([]string{s})
		total += cnt
		if err != nil {
			errs = append(errs, err)
		}
	}
	if total > 0 {
		return total, nil
	}
	return 0, errors.Join(errs...)
}

func (n *Node) setSynced() {
	n.mu.Lock()
	n.synced = true
	n.mu.Unlock()
}

// poke asks the loop to recompute the View; it never blocks.
func (n *Node) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *Node) refreshPeriod() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.cfg.Refresh.D(); r > 0 {
		return r
	}
	return defaultRefresh
}

// loop is the one goroutine that computes Views and calls OnView, and
// re-broadcasts our own observations every Refresh.
func (n *Node) loop(ctx context.Context) {
	t := time.NewTimer(n.refreshPeriod())
	defer t.Stop()
	// window fires when a maintenance window starts or ends, so a drain
	// takes effect on time rather than at the next Refresh.
	window := time.NewTimer(time.Hour)
	defer window.Stop()
	for {
		n.recompute()
		last := time.Now()
		window.Reset(n.untilDrainChange())
		select {
		case <-ctx.Done():
			return
		case <-window.C:
		case <-n.wake:
			// Coalesce bursts (a push/pull, a flapping peer) so the
			// publisher is not asked to rebuild more than ~40 times a second.
			if wait := minRecomputeGap - time.Since(last); wait > 0 {
				gap := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					gap.Stop()
					return
				case <-gap.C:
				}
			}
		case <-t.C:
			n.refreshOwn()
			t.Reset(n.refreshPeriod())
		}
	}
}

// untilDrainChange is how long until the last View's DrainChangeAt (an
// hour when there is none; the loop runs again sooner anyway).
func (n *Node) untilDrainChange() time.Duration {
	v := n.view.Load()
	if v == nil || v.DrainChangeAt.IsZero() {
		return time.Hour
	}
	return max(v.DrainChangeAt.Sub(n.now()), time.Millisecond)
}

// Observe records a local observation from health and gossips it when
// the state changed (a periodic refresh covers the rest). The node name
// and Seq are stamped here: Seq is at least the wall clock in
// nanoseconds, so it keeps increasing across restarts. Observe never
// blocks on the network.
func (n *Node) Observe(o gslb.Observation) {
	if o.Target == "" || len(o.Target) > maxTargetLen || !validObservedState(o.State) {
		n.log.Warn("cluster: ignoring invalid local observation",
			zap.String("target", truncateUTF8(o.Target, maxTargetLen)), zap.Stringer("state", o.State))
		return
	}
	o.Node = n.name
	n.mu.Lock()
	prev, had := n.obs[n.name][o.Target]
	o.Seq = n.nextSeqLocked()
	n.obs[n.name][o.Target] = o
	stale, _ := n.settingsLocked()
	n.mu.Unlock()
	// Only a new record or a state change is news worth gossiping now:
	// the reason (and lag) move with nearly every probe, and queueing each
	// one would crowd out real changes at scale. refreshOwn brings peers
	// the latest reason every Refresh.
	if !had || prev.State != o.State {
		n.queueObservation(o)
	}
	// A mere refresh of an unchanged, fresh state cannot change the View
	// beyond ObservedAt, which the Refresh tick picks up.
	if significant(prev, had, o, stale) {
		n.poke()
	}
}

// significant: o is new, changes the state, or revives a stale record,
// so the View may change now.
func significant(prev gslb.Observation, had bool, o gslb.Observation, stale time.Duration) bool {
	return !had || prev.State != o.State || o.ObservedAt.Sub(prev.ObservedAt) > stale
}

func (n *Node) nextSeqLocked() uint64 {
	n.seq = max(n.seq+1, uint64(max(n.now().UnixNano(), 0)))
	return n.seq
}

// refreshOwn re-stamps and re-queues every own observation, so peers that
// missed a broadcast (or hold an older incarnation's higher Seq) catch up.
func (n *Node) refreshOwn() {
	if n.solo {
		return
	}
	n.mu.Lock()
	own := make([]gslb.Observation, 0, len(n.obs[n.name]))
	for ep, o := range n.obs[n.name] {
		o.Seq = n.nextSeqLocked()
		n.obs[n.name][ep] = o
		own = append(own, o)
	}
	n.mu.Unlock()
	for _, o := range own {
		n.queueObservation(o)
	}
}

func (n *Node) queueObservation(o gslb.Observation) {
	if n.solo {
		return
	}
	msg, err := encodeObservation(o)
	if err != nil {
		n.log.Warn("cluster: cannot encode observation", zap.Error(err))
		return
	}
	n.queue.QueueBroadcast(&broadcast{name: "obs/" + o.Node + "/" + o.Target, msg: msg})
}

func (n *Node) queueDrain(d gslb.Drain) {
	if n.solo {
		return
	}
	msg, err := encodeDrain(d)
	if err != nil {
		n.log.Warn("cluster: cannot encode drain", zap.Error(err))
		return
	}
	n.queue.QueueBroadcast(&broadcast{name: "drain/" + d.Key(), msg: msg})
}

// SetDrain applies an operator's drain or undrain locally and gossips it.
// A zero At is now, an empty By is this node. An action is never lost to
// clock skew: if a newer record is already held, At is moved just past it.
func (n *Node) SetDrain(d gslb.Drain) {
	if (d.Endpoint == "") == (d.Region == "") || len(d.Endpoint) > maxEndpointLen || len(d.Region) > maxRegionLen {
		n.log.Warn("cluster: ignoring drain without exactly one endpoint or region",
			zap.String("endpoint", truncateUTF8(d.Endpoint, maxEndpointLen)), zap.String("region", truncateUTF8(d.Region, maxRegionLen)))
		return
	}
	if d.At.IsZero() {
		d.At = n.now()
	}
	if d.By == "" {
		d.By = n.name
	}
	d.By = truncateUTF8(d.By, maxByLen)
	n.mu.Lock()
	d, ok := n.drains.setLocal(d)
	n.mu.Unlock()
	if !ok {
		n.log.Warn("cluster: drain table full, drain ignored", zap.String("endpoint", d.Endpoint))
		return
	}
	n.log.Info("cluster: drain set", zap.String("endpoint", d.Endpoint), zap.String("region", d.Region),
		zap.Bool("drained", d.Drained), zap.String("by", d.By), zap.Time("from", d.From), zap.Time("until", d.Until))
	n.queueDrain(d)
	n.poke()
}

// Drains returns the current drain records sorted by endpoint.
func (n *Node) Drains() []gslb.Drain {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.drains.sorted()
}

// View returns the last computed View (zero before the first).
func (n *Node) View() gslb.View {
	if v := n.view.Load(); v != nil {
		return *v
	}
	return gslb.View{}
}

// receive handles one gossip message from a peer.
func (n *Node) receive(b []byte) {
	m, err := decode(b)
	if err != nil {
		n.drop(dropReason(err), err)
		return
	}
	n.received.Add(1)
	n.met.messages.WithLabelValues("received", typeName(m.Type)).Inc()
	now := n.now()
	switch m.Type {
	case msgObservation:
		n.mu.Lock()
		reason, relay := n.mergeObservationLocked(m.Obs, now)
		n.mu.Unlock()
		if reason != "" {
			n.drop(reason, nil)
			return
		}
		if !relay {
			return
		}
		// Epidemic re-broadcast of a state change: the originator's own
		// transmits may miss a node, and convergence speed matters.
		n.queueObservation(m.Obs)
	case msgDrain:
		n.mu.Lock()
		reason := n.drains.merge(m.Drain, now)
		n.mu.Unlock()
		if reason != "" {
			n.drop(reason, nil)
			return
		}
		n.queueDrain(m.Drain)
	case msgWrite:
		n.mu.Lock()
		reason := n.writes.merge(m.Write, n.configuredExpectLocked())
		n.mu.Unlock()
		if reason != "" {
			n.drop(reason, nil)
			return
		}
		n.log.Info("cluster: write record accepted", zap.String("name", m.Write.Name), zap.Uint64("term", m.Write.Term),
			zap.String("region", m.Write.Region), zap.String("by", m.Write.By))
		n.queueWrite(m.Write)
	default:
		n.drop(dropType, fmt.Errorf("message type %d in gossip", m.Type))
		return
	}
	n.poke()
}

func (n *Node) drop(reason string, err error) {
	n.dropped.Add(1)
	n.met.dropped.WithLabelValues(reason).Inc()
	if err != nil {
		n.log.Debug("cluster: dropped message", zap.String("reason", reason), zap.Error(err))
	}
}

// mergeObservationLocked stores o when it is newer than what we hold from
// its observer. It returns a drop reason, or whether o is significant
// (new, a state change, or fresh after stale): worth relaying and
// recomputing for.
func (n *Node) mergeObservationLocked(o gslb.Observation, now time.Time) (reason string, relay bool) {
	if o.ObservedAt.After(now.Add(maxSkew)) {
		return dropFuture, false
	}
	if o.Node == n.name {
		// Only we speak for ourselves. A copy of ours with a higher Seq
		// is from an earlier run whose clock was ahead: continue above it
		// so our next refresh supersedes it everywhere.
		if o.Seq > n.seq {
			n.seq = o.Seq
		}
		return "", false
	}
	if _, ok := n.targetSet[o.Target]; !ok {
		return dropUnknown, false
	}
	byTarget := n.obs[o.Node]
	cur, had := byTarget[o.Target]
	if had && o.Seq <= cur.Seq {
		return dropOld, false
	}
	if byTarget == nil {
		byTarget = map[string]gslb.Observation{}
		n.obs[o.Node] = byTarget
	}
	byTarget[o.Target] = o
	stale, _ := n.settingsLocked()
	return "", significant(cur, had, o, stale)
}

// localState is our side of a push/pull: every node's latest observation
// we hold (ours included), every drain and every write record.
func (n *Node) localState() []byte {
	n.mu.Lock()
	var obs []gslb.Observation
	for _, byEP := range n.obs {
		for _, o := range byEP {
			obs = append(obs, o)
		}
	}
	drains, writes := n.drains.sorted(), n.writes.sorted()
	n.mu.Unlock()
	b, err := encodeState(obs, drains, writes)
	if err != nil {
		// Only a bad local record can fail; send nothing rather than a
		// partial table.
		n.log.Warn("cluster: cannot encode local state", zap.Error(err))
		return nil
	}
	n.sent.Add(1)
	n.met.messages.WithLabelValues("sent", typeName(msgState)).Inc()
	return b
}

// mergeState is the other side: relayed copies are welcome, but each
// record only replaces an older one from the same observer.
func (n *Node) mergeState(buf []byte) {
	if len(buf) == 0 {
		return // peer had nothing to say (or failed to encode)
	}
	m, err := decode(buf)
	if err != nil {
		n.drop(dropReason(err), err)
		return
	}
	if m.Type != msgState {
		n.drop(dropType, fmt.Errorf("message type %d in push/pull", m.Type))
		return
	}
	n.received.Add(1)
	n.met.messages.WithLabelValues("received", typeName(m.Type)).Inc()
	now := n.now()
	var reasons []string
	n.mu.Lock()
	for _, o := range m.State {
		if r, _ := n.mergeObservationLocked(o, now); r != "" && r != dropOld {
			reasons = append(reasons, r)
		}
	}
	for _, d := range m.Drains {
		if r := n.drains.merge(d, now); r != "" && r != dropOld {
			reasons = append(reasons, r)
		}
	}
	for _, a := range m.Writes {
		if r := n.writes.merge(a, n.configuredExpectLocked()); r != "" && r != dropOld {
			reasons = append(reasons, r)
		}
	}
	n.synced = true
	n.mu.Unlock()
	// Records we already hold are the normal case in a full sync, not a
	// replay, so only real problems are counted.
	for _, r := range reasons {
		n.drop(r, nil)
	}
	n.poke()
}

func (n *Node) countSent(m []byte) {
	n.sent.Add(1)
	t := byte(0)
	if len(m) > 1 {
		t = m[1]
	}
	n.met.messages.WithLabelValues("sent", typeName(t)).Inc()
}

func (n *Node) memberEvent(name, addr string, st memberState, leaving bool) {
	n.mu.Lock()
	if st == memberDead && n.members[name].leaving {
		st = memberLeft
	}
	n.members[name] = memberRec{addr: addr, state: st, leaving: leaving}
	alive := 0
	for _, m := range n.members {
		if m.state == memberAlive {
			alive++
		}
	}
	n.mu.Unlock()
	n.numAlive.Store(int32(max(alive, 1)))
	if name != n.name {
		n.log.Info("cluster: member "+memberStateNames[st], zap.String("member", name), zap.String("addr", addr))
	}
	n.poke()
}

// membersLocked lists every member we know (self always alive) and the
// expected cluster size: the configured one, or more if we have seen more
// nodes that did not leave on purpose.
func (n *Node) membersLocked() ([]gslb.Member, int) {
	out := make([]gslb.Member, 0, len(n.members)+1)
	known := 0
	selfSeen := false
	for name, m := range n.members {
		alive := m.state == memberAlive || name == n.name
		out = append(out, gslb.Member{Name: name, Addr: m.addr, Alive: alive})
		if m.state != memberLeft || name == n.name {
			known++
		}
		selfSeen = selfSeen || name == n.name
	}
	if !selfSeen {
		out = append(out, gslb.Member{Name: n.name, Alive: true})
		known++
	}
	slices.SortFunc(out, func(a, b gslb.Member) int { return strings.Compare(a.Name, b.Name) })
	return out, max(n.configuredExpectLocked(), known)
}

// configuredExpectLocked is the configured cluster size. A received write
// record is judged against it rather than against every node ever seen:
// a record backed by a majority when it was made stays valid for a node
// that joins later.
func (n *Node) configuredExpectLocked() int {
	if n.solo {
		return 1
	}
	if n.cfg.Expect >= 1 {
		return n.cfg.Expect
	}
	return 1 + len(n.cfg.Seeds)
}

func (n *Node) settingsLocked() (stale, hold time.Duration) {
	refresh := n.cfg.Refresh.D()
	if refresh <= 0 {
		refresh = defaultRefresh
	}
	stale = n.cfg.StaleAfter.D()
	if stale <= 0 {
		stale = 3 * refresh
	}
	hold = n.cfg.IsolationHold.D()
	if hold <= 0 {
		hold = defaultIsolationHold
	}
	return stale, hold
}

// recompute builds the AgreeInput from copies (so Agree runs without the
// lock), stores the View and hands it to OnView.
func (n *Node) recompute() {
	now := n.now()
	n.mu.Lock()
	members, expect := n.membersLocked()
	stale, hold := n.settingsLocked()
	n.pruneLocked(now, members, stale, hold)
	obs := make(map[string]map[string]gslb.Observation, len(n.obs))
	for node, byEP := range n.obs {
		c := make(map[string]gslb.Observation, len(byEP))
		for ep, o := range byEP {
			c[ep] = o
		}
		obs[node] = c
	}
	drains, writes := n.drains.clone(), n.writes.clone()
	in := gslb.AgreeInput{
		Now:           now,
		Self:          n.name,
		Members:       members,
		Expect:        expect,
		Observations:  obs,
		Drains:        drains,
		Active:        writes,
		Targets:       n.targets, // replaced, never changed in place
		StaleAfter:    stale,
		Quorum:        n.quorum,
		IsolationHold: hold,
		Synced:        n.synced,
	}
	n.mu.Unlock()
	prev := n.view.Load()
	if prev != nil {
		in.Previous = *prev
	}
	v := gslb.Agree(in)
	n.view.Store(&v)

	if prev != nil && prev.Isolated != v.Isolated {
		alive := 0
		for _, m := range members {
			if m.Alive {
				alive++
			}
		}
		if v.Isolated {
			n.log.Warn("cluster: isolated, keeping last agreed state", zap.Int("alive", alive), zap.Int("expect", expect))
		} else {
			n.log.Info("cluster: no longer isolated", zap.Int("alive", alive), zap.Int("expect", expect))
		}
	}
	if v.Isolated {
		n.met.isolated.Set(1)
	} else {
		n.met.isolated.Set(0)
	}
	counts := [len(memberStateNames)]int{}
	n.mu.Lock()
	for name, m := range n.members {
		if name != n.name {
			counts[m.state]++
		}
	}
	n.mu.Unlock()
	counts[memberAlive]++ // self
	for i, name := range memberStateNames {
		n.met.members.WithLabelValues(name).Set(float64(counts[i]))
	}
	if n.onView != nil {
		n.onView(v)
	}
}

// pruneLocked forgets nodes that are gone and whose observations are long
// past any use, so renamed or retired nodes do not pile up.
func (n *Node) pruneLocked(now time.Time, members []gslb.Member, stale, hold time.Duration) {
	keepAfter := now.Add(-(10*stale + hold))
	for node, byEP := range n.obs {
		if node == n.name {
			continue
		}
		if i := slices.IndexFunc(members, func(m gslb.Member) bool { return m.Name == node }); i >= 0 && members[i].Alive {
			continue
		}
		recent := false
		for _, o := range byEP {
			if o.ObservedAt.After(keepAfter) {
				recent = true
				break
			}
		}
		if !recent {
			delete(n.obs, node)
		}
	}
}

func (n *Node) setTargetsLocked(ts []string) {
	n.targets = slices.Clone(ts)
	n.targetSet = make(map[string]struct{}, len(ts))
	for _, t := range ts {
		n.targetSet[t] = struct{}{}
	}
	for _, byTarget := range n.obs {
		for t := range byTarget {
			if _, ok := n.targetSet[t]; !ok {
				delete(byTarget, t)
			}
		}
	}
}

// rotateKeys makes kr hold exactly keys with keys[0] primary, in the order
// that never leaves the ring without a usable primary: add, use, remove.
func rotateKeys(kr *memberlist.Keyring, keys [][]byte) error {
	have := kr.GetKeys()
	for _, k := range keys {
		if !slices.ContainsFunc(have, func(h []byte) bool { return bytes.Equal(h, k) }) {
			if err := kr.AddKey(k); err != nil {
				return fmt.Errorf("cluster: add key: %w", err)
			}
		}
	}
	if !bytes.Equal(kr.GetPrimaryKey(), keys[0]) {
		if err := kr.UseKey(keys[0]); err != nil {
			return fmt.Errorf("cluster: use key: %w", err)
		}
	}
	for _, h := range have {
		if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(h, k) }) {
			if err := kr.RemoveKey(h); err != nil {
				return fmt.Errorf("cluster: remove key: %w", err)
			}
		}
	}
	return nil
}

// Status reports membership and sync state.
func (n *Node) Status() Status {
	v := n.view.Load()
	n.mu.Lock()
	members, expect := n.membersLocked()
	st := Status{
		Node:    n.name,
		Solo:    n.solo,
		Synced:  n.synced,
		Expect:  expect,
		Members: members,
	}
	addr := n.addr
	n.mu.Unlock()
	for _, m := range members {
		if m.Alive {
			st.Alive++
		}
	}
	st.Joined = !n.solo && st.Alive > 1
	st.Alone = !n.solo && st.Alive <= 1
	if v != nil {
		st.Isolated = v.Isolated
	}
	st.Addr = addr
	st.MessagesSent = n.sent.Load()
	st.MessagesReceived = n.received.Load()
	st.MessagesDropped = n.dropped.Load()
	return st
}

// LocalAddr is memberlist's actual address (the real port when bound to
// port 0); "" when solo or before Run has started gossip.
func (n *Node) LocalAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/configs"
	"github.com/gslbd/gslbd/connlimit"
	"github.com/gslbd/gslbd/dashboard"
	"github.com/gslbd/gslbd/dns"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/health"
)

// serve runs one node until ctx is done (SIGTERM/SIGINT) or a part fails.
func serve(ctx context.Context, f flags, hup <-chan os.Signal, log *zap.Logger, stdout io.Writer) error {
	src := &configSource{path: f.configPath, dnsAddrs: f.dnsAddrs, httpAddrs: f.httpAddrs}
	var devToken string
	if f.dev {
		base, err := config.Prepare(configs.Dev, "configs/dev.yaml (embedded)")
		if err != nil {
			return fmt.Errorf("embedded dev config: %w", err)
		}
		regions := make([]string, 0, len(base.Regions))
		for _, r := range base.Regions {
			regions = append(regions, r.Name)
		}
		dev, err := startDevBackends(regions, nil)
		if err != nil {
			return err
		}
		defer dev.close()
		src.dev = dev
		devToken = randomToken()
	}

	cfg, loc, err := src.load()
	if err != nil {
		return err
	}
	token := cfg.Admin.Secret
	if devToken != "" {
		token = devToken
	}
	var tokenVal atomic.Value
	tokenVal.Store(token)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)

	store := &gslb.Store{}
	snap, err := gslb.NewSnapshot(gslb.Options{Config: cfg, Locator: loc, Now: time.Now()})
	if err != nil {
		return err
	}
	store.Swap(snap)
	m.configLoaded(cfg)
	for _, w := range cfg.Warnings {
		log.Warn("config warning", zap.String("warning", w))
	}

	nofile := raiseFDLimit(log)
	caps, lowered := deriveConnCaps(cfg.Listen.MaxConns, nofile)
	if len(lowered) > 0 {
		log.Warn("connection caps lowered to their share of the file-descriptor limit", zap.Strings("settings", lowered), zap.Uint64("fd_limit", nofile))
	}
	log.Info("connection caps", capFields(caps, nofile)...)

	dnsSrv, err := dns.NewServer(dns.Options{
		Addrs:          cfg.Listen.DNS,
		Source:         store,
		UDPSize:        cfg.Listen.UDPSize,
		UDPWorkers:     cfg.Listen.UDPWorkers,
		TCPIdleTimeout: cfg.Listen.TCPIdleTimeout.D(),
		Logger:         log.Named("dns"),
		Registerer:     reg,
		TCPLimits:      caps.dns,
	})
	if err != nil {
		return err
	}
	if err := dnsSrv.Listen(); err != nil {
		return err
	}
	serving := false
	defer func() {
		if !serving { // Serve owns the sockets once it runs
			_ = dnsSrv.Close()
		}
	}()
	var httpLn net.Listener
	if cfg.Listen.HTTP != "" {
		httpLn, err = net.Listen("tcp", cfg.Listen.HTTP)
		if err != nil {
			return fmt.Errorf("http listener %s: %w", cfg.Listen.HTTP, err)
		}
		defer httpLn.Close()
		httpLn = connlimit.NewListener(httpLn, connlimit.New(caps.http, connlimit.Options{Prefix: "gslbd_http_tcp", Registerer: reg}))
		if cfg.Listen.HTTPTLS.CertFile != "" {
			certs, err := newCertSource(func() config.TLSFiles { return store.Load().Config().Listen.HTTPTLS }, log.Named("http"))
			if err != nil {
				return err
			}
			httpLn = tls.NewListener(httpLn, certs.tlsConfig())
		}
	}

	opsHooks, err := newOps(cfg, log.Named("ops"), reg)
	if err != nil {
		return err
	}
	defer opsHooks.close()

	views := make(chan gslb.View, 1)
	node, err := cluster.New(cluster.Options{
		Node:       cfg.Node,
		Config:     cfg.Cluster,
		Endpoints:  endpointIDs(cfg),
		Regions:    endpointRegions(cfg),
		Logger:     log.Named("cluster"),
		Registerer: reg,
		OnView:     func(v gslb.View) { offerLatest(views, v) },
		ConnLimits: caps.gossip,
	})
	if err != nil {
		return err
	}
	hm := health.NewManager(health.Options{
		Logger:     log.Named("health"),
		Registerer: reg,
		Emit:       node.Observe,
	})
	hm.SetTargets(health.TargetsFromConfig(cfg))

	state := &stateFile{path: cfg.StateFile, log: log.Named("state")}
	if err := state.restore(node); err != nil {
		return err
	}

	var stopping atomic.Bool
	gates := func() []string {
		var unmet []string
		if stopping.Load() {
			unmet = append(unmet, "stopping: lame-duck period before shutdown")
		}
		select {
		case <-hm.FirstRound():
		default:
			unmet = append(unmet, "first probe round not done")
		}
		if why := hm.Impaired(); why != "" {
			unmet = append(unmet, why)
		}
		st := node.Status()
		if !st.Solo && !st.Joined {
			unmet = append(unmet, "cluster not joined: no seed reachable yet")
		}
		if !st.Synced {
			unmet = append(unmet, "cluster state not synced from peers yet")
		}
		for _, w := range store.Load().Writes() {
			if w.Fenced {
				unmet = append(unmet, "write name "+w.Name+": "+w.Reason)
			}
		}
		return unmet
	}
	rl := newReloader(src.load, node.PrepareReload)
	var dev dashboard.Dev
	if src.dev != nil {
		dev = src.dev
	}
	handler := dashboard.New(dashboard.Options{
		Source:   store,
		Gates:    gates,
		Gatherer: reg,
		Token:    func() string { return tokenVal.Load().(string) },
		Drain:    applyDrain(store, node, state, opsHooks, log),
		Audit:    opsHooks.dashboardAudit(),
		SetActive: func(name, region string) error {
			// The same record rule as a failover: Term+1, only with a
			// quorum, to a ready region.
			r, err := store.Load().ProposeMove(name, region)
			if err != nil {
				return err
			}
			if r, err = node.Propose(r); err != nil {
				return err
			}
			log.Info("write name moved by operator", zap.String("name", name), zap.String("region", region), zap.Uint64("term", r.Term))
			if err := state.save(node.Drains(), node.Writes()); err != nil {
				return fmt.Errorf("write record accepted and gossiped, but not persisted: %w", err)
			}
			return nil
		},
		Cluster:    func() any { return node.Status() },
		Reload:     func() any { return rl.status() },
		Dev:        dev,
		Logger:     log.Named("http"),
		Registerer: reg,
		Hosts:      func() []string { return store.Load().Config().Listen.HTTPHosts },
	})
	// Slow or idle clients must not hold the operators' endpoint hostage.
	httpSrv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}

	pub := &publisher{
		store: store, views: views, hup: hup, reload: rl, log: log.Named("publisher"), m: m,
		health: hm, cluster: node, state: state, ops: opsHooks,
		firstRound: hm.FirstRound(), startupLimit: cfg.Cluster.StartupLimit.D(),
		setToken: func(t string) {
			if devToken == "" {
				tokenVal.Store(t)
			}
		},
	}

	for _, a := range dnsSrv.UDPAddrs() {
		log.Info("listening", zap.String("proto", "udp"), zap.String("addr", a.String()))
	}
	for _, a := range dnsSrv.TCPAddrs() {
		log.Info("listening", zap.String("proto", "tcp"), zap.String("addr", a.String()))
	}
	if httpLn != nil {
		log.Info("listening", zap.String("proto", "http"), zap.String("addr", httpLn.Addr().String()))
	}
	if f.dev {
		printDevHelp(stdout, dnsSrv, httpLn, devToken)
	}

	serving = true
	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	g, gctx := errgroup.WithContext(bg)
	clusterCtx, cancelCluster := context.WithCancel(gctx)
	defer cancelCluster()
	dnsCtx, cancelDNS := context.WithCancel(gctx)
	defer cancelDNS()
	g.Go(func() error { return hm.Run(gctx) })
	g.Go(func() error { return node.Run(clusterCtx) })
	g.Go(func() error { return dnsSrv.Serve(dnsCtx) })
	if httpLn != nil {
		g.Go(func() error {
			if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error { return pub.run(gctx) })
	g.Go(func() error { return opsHooks.run(bg) })
	g.Go(func() error {
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		}
		// Readiness goes first so load balancers and probes stop sending,
		// then we leave the cluster and keep answering for the lame-duck
		// period; DNS stops last, after its in-flight queries.
		stopping.Store(true)
		log.Info("stopping: readiness off, leaving the cluster", zap.Duration("lameduck", f.lameDuck))
		cancelCluster()
		t := time.NewTimer(f.lameDuck)
		select {
		case <-t.C:
		case <-gctx.Done():
			t.Stop()
		}
		cancelDNS()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(sctx)
		cancelBG()
		return nil
	})
	err = g.Wait()
	if err == nil {
		log.Info("stopped")
	}
	return err
}

func endpointIDs(cfg *config.Config) []string {
	var ids []string
	for _, z := range cfg.Zones {
		for _, n := range z.Names {
			for _, e := range n.Endpoints {
				ids = append(ids, e.ID)
			}
		}
	}
	return ids
}

// offerLatest replaces whatever View is waiting: the publisher only ever
// needs the newest one, and the cluster must never block on it.
func offerLatest(ch chan gslb.View, v gslb.View) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func printDevHelp(w io.Writer, d *dns.Server, httpLn net.Listener, token string) {
	dnsAddr := "127.0.0.1:5353"
	if a := d.UDPAddrs(); len(a) > 0 {
		dnsAddr = a[0].String()
	}
	host, port, _ := net.SplitHostPort(dnsAddr)
	web := ""
	if httpLn != nil {
		web = "http://" + httpLn.Addr().String()
	}
	fmt.Fprintf(w, `gslbd -dev is serving gslb.test. with simulated regions us-east, eu-west, ap-southeast.
  admin token:  %s
  dashboard:    %s/
  try:          dig @%s -p %s app.gslb.test +subnet=81.2.69.160/27     (London -> eu-west)
                dig @%s -p %s app.gslb.test +subnet=175.16.199.0/24    (Changchun -> ap-southeast)
                dig @%s -p %s app.gslb.test +subnet=216.160.83.56/29   (Milton, WA -> us-east)
  fail eu-west: curl -X POST -d '{"alive":false}' %s/api/v1/dev/regions/eu-west
  lag eu-west:  curl -X POST -d '{"alive":true,"lag_seconds":30}' %s/api/v1/dev/regions/eu-west
`, token, web, host, port, host, port, host, port, web, web)
}

// listenChanged lists the settings that a reload cannot apply.
func listenChanged(old, cur *config.Config) []string {
	var out []string
	if !slices.Equal(old.Listen.DNS, cur.Listen.DNS) {
		out = append(out, "listen.dns")
	}
	if old.Listen.HTTP != cur.Listen.HTTP {
		out = append(out, "listen.http")
	}
	if old.Listen.UDPSize != cur.Listen.UDPSize {
		out = append(out, "listen.udp_size")
	}
	if old.Listen.UDPWorkers != cur.Listen.UDPWorkers {
		out = append(out, "listen.udp_workers")
	}
	if old.Listen.TCPIdleTimeout != cur.Listen.TCPIdleTimeout {
		out = append(out, "listen.tcp_idle_timeout")
	}
	if old.Listen.MaxConns != cur.Listen.MaxConns {
		out = append(out, "listen.max_conns")
	}
	if (old.Listen.HTTPTLS.CertFile == "") != (cur.Listen.HTTPTLS.CertFile == "") {
		out = append(out, "listen.http_tls") // TLS on or off; new files are followed
	}
	if old.Node != cur.Node {
		out = append(out, "node")
	}
	if old.StateFile != cur.StateFile {
		out = append(out, "state_file")
	}
	if !reflect.DeepEqual(old.Hooks, cur.Hooks) {
		out = append(out, "hooks")
	}
	if old.AuditLog != cur.AuditLog {
		out = append(out, "audit_log")
	}
	return out
}

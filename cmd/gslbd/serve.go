package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/connlimit"
	"github.com/gslbd/gslbd/dns"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/health"
)

// serve runs one node until ctx is done (SIGTERM/SIGINT) or a part fails:
// it prepares the config, builds the first Snapshot, binds the sockets,
// wires the parts together and hands them to runParts.
func serve(ctx context.Context, f flags, hup <-chan os.Signal, log *zap.Logger, stdout io.Writer) error {
	src, devToken, stopDev, err := newConfigSource(f)
	if err != nil {
		return err
	}
	defer stopDev()

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

	protect, err := newProtection(cfg, log.Named("dns"), reg)
	if err != nil {
		return err
	}
	dnsSrv, err := dns.NewServer(dns.Options{
		Addrs:             cfg.Listen.DNS,
		Source:            store,
		UDPSize:           cfg.Listen.UDPSize,
		UDPWorkers:        cfg.Listen.UDPWorkers,
		TCPIdleTimeout:    cfg.Listen.TCPIdleTimeout.D(),
		TCPLimits:         caps.dns,
		Logger:            log.Named("dns"),
		Registerer:        reg,
		RRL:               protect.rrl,
		Cookies:           protect.cookies,
		AnswerMetricNames: cfg.Listen.AnswerMetricNames,
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
	targets, endpoints := probeTargets(cfg)
	node, err := cluster.New(cluster.Options{
		Node:       cfg.Node,
		Config:     cfg.Cluster,
		Targets:    targets,
		Endpoints:  endpoints,
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
	rl := newReloader(src.load, node.PrepareReload)
	httpSrv := newHTTPServer(httpParts{store: store, node: node, state: state, ops: opsHooks, reload: rl, src: src,
		gates: readinessGates(&stopping, hm, node, store), token: &tokenVal, reg: reg, log: log})

	pub := &publisher{
		store: store, views: views, hup: hup, reload: rl, log: log.Named("publisher"), m: m,
		health: hm, cluster: node, state: state, ops: opsHooks, protect: protect,
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
	err = runParts(ctx, runningParts{hm: hm, node: node, dnsSrv: dnsSrv, httpSrv: httpSrv, httpLn: httpLn,
		pub: pub, ops: opsHooks, protect: protect, stopping: &stopping, lameDuck: f.lameDuck, log: log})
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// probeTargets lists the distinct probe target IDs of cfg in config
// order, and counts its endpoints, for the cluster.
func probeTargets(cfg *config.Config) (ids []string, endpoints int) {
	all := cfg.AllEndpoints()
	endpoints = len(all)
	seen := make(map[string]bool)
	for _, e := range all {
		if e.ProbeID != "" && !seen[e.ProbeID] {
			seen[e.ProbeID] = true
			ids = append(ids, e.ProbeID)
		}
	}
	return ids, endpoints
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

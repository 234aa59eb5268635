package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/dns"
	"github.com/gslbd/gslbd/health"
)

// runningParts are the long-running parts of a node, each with a Run or
// Serve that runParts starts and stops in order.
type runningParts struct {
	hm       *health.Manager
	node     *cluster.Node
	dnsSrv   *dns.Server
	httpSrv  *http.Server
	httpLn   net.Listener // nil without an HTTP listener
	pub      *publisher
	ops      *ops
	protect  *protection
	stopping *atomic.Bool
	lameDuck time.Duration
	log      *zap.Logger
}

// runParts runs every part until ctx is done or one fails, then stops
// them in order: readiness off, leave the cluster, keep answering DNS for
// the lame-duck period, then DNS and HTTP.
func runParts(ctx context.Context, p runningParts) error {
	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	g, gctx := errgroup.WithContext(bg)
	clusterCtx, cancelCluster := context.WithCancel(gctx)
	defer cancelCluster()
	dnsCtx, cancelDNS := context.WithCancel(gctx)
	defer cancelDNS()
	g.Go(func() error { return p.hm.Run(gctx) })
	g.Go(func() error { return p.node.Run(clusterCtx) })
	g.Go(func() error { return p.dnsSrv.Serve(dnsCtx) })
	g.Go(func() error { return p.protect.run(dnsCtx) })
	if p.httpLn != nil {
		g.Go(func() error {
			if err := p.httpSrv.Serve(p.httpLn); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error { return p.pub.run(gctx) })
	g.Go(func() error { return p.ops.run(bg) })
	g.Go(func() error {
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		}
		// Readiness goes first so load balancers and probes stop sending,
		// then we leave the cluster and keep answering for the lame-duck
		// period; DNS stops last, after its in-flight queries.
		p.stopping.Store(true)
		p.log.Info("stopping: readiness off, leaving the cluster", zap.Duration("lameduck", p.lameDuck))
		cancelCluster()
		t := time.NewTimer(p.lameDuck)
		select {
		case <-t.C:
		case <-gctx.Done():
			t.Stop()
		}
		cancelDNS()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.httpSrv.Shutdown(sctx)
		cancelBG()
		return nil
	})
	return g.Wait()
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gslbd/gslbd/connlimit"
	"github.com/gslbd/gslbd/dashboard"
)

// runSimulate implements "gslbd simulate": the simulated regional backends
// of -dev as a process of their own, so the 3-node cluster example
// (configs/cluster-node*.yaml, whose probes target 127.0.0.1:18081-18083)
// has something to probe, and one API fails or lags a region for every node.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gslbd simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	regions := fs.String("regions", "us-east=127.0.0.1:18081,eu-west=127.0.0.1:18082,ap-southeast=127.0.0.1:18083",
		"region=host:port,... one simulated backend (/healthz, /lag) per region")
	api := fs.String("http", "127.0.0.1:18080", "address of the control API (POST /api/v1/dev/regions/{region})")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var names []string
	addrs := map[string]string{}
	for _, kv := range strings.Split(*regions, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || name == "" || addr == "" {
			fmt.Fprintf(stderr, "gslbd simulate: bad -regions entry %q (want region=host:port)\n", kv)
			return 2
		}
		if _, dup := addrs[name]; dup {
			fmt.Fprintf(stderr, "gslbd simulate: region %q given twice\n", name)
			return 2
		}
		names = append(names, name)
		addrs[name] = addr
	}
	dev, err := startDevBackends(names, addrs)
	if err != nil {
		fmt.Fprintf(stderr, "gslbd simulate: %v\n", err)
		return 1
	}
	defer dev.close()
	ln, err := net.Listen("tcp", *api)
	if err != nil {
		fmt.Fprintf(stderr, "gslbd simulate: control API: %v\n", err)
		return 1
	}
	// The control API gets the caps a node's HTTP listener has by default.
	ln = connlimit.NewListener(ln, connlimit.New(connlimit.Limits{Total: defaultOtherConn, PerSource: defaultOtherConn / 4}, connlimit.Options{}))
	srv := &http.Server{Handler: dashboard.DevAPI(dev, nil), ReadHeaderTimeout: 5 * time.Second}
	for _, r := range names {
		b := dev.backends[r]
		fmt.Fprintf(stdout, "%-14s liveness http://%s/healthz  lag http://%s/lag\n", r, b.addr, b.addr)
	}
	fmt.Fprintf(stdout, "control API     http://%s/api/v1/dev/regions  (POST {\"alive\":false} or {\"lag_seconds\":30} to /api/v1/dev/regions/REGION)\n", ln.Addr())

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "gslbd simulate: %v\n", err)
			return 1
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return 0
}

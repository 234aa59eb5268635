package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/dashboard"
	"github.com/gslbd/gslbd/geo"
)

// devCityDB is MaxMind's synthetic City test database (see devdata/README.md).
//
//go:embed devdata/GeoIP2-City-Test.mmdb
var devCityDB []byte

// devBackends are the simulated regions of -dev: one loopback HTTP server
// per region answering /healthz (liveness) and /lag (readiness, JSON), whose
// state an operator changes through the dashboard's dev API.
type devBackends struct {
	geoDB *geo.Database

	order []string // regions in config order, for the dashboard

	mu       sync.Mutex
	backends map[string]*devBackend
}

type devBackend struct {
	region string
	addr   string // host:port the prober is pointed at
	srv    *http.Server
	ln     net.Listener

	// guarded by devBackends.mu
	alive bool
	lag   float64
}

var _ dashboard.Dev = (*devBackends)(nil)

// startDevBackends listens for each region on its address in addrs
// (127.0.0.1:0 when absent); nothing ever targets the answer addresses of
// the dev config.
func startDevBackends(regions []string, addrs map[string]string) (*devBackends, error) {
	db, err := geo.OpenDatabase("GeoIP2-City-Test", devCityDB)
	if err != nil {
		return nil, fmt.Errorf("embedded dev GeoIP database: %w", err)
	}
	d := &devBackends{geoDB: db, order: regions, backends: make(map[string]*devBackend)}
	for _, r := range regions {
		addr := addrs[r]
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("dev backend for %s: %w", r, err)
		}
		b := &devBackend{region: r, addr: ln.Addr().String(), ln: ln, alive: true}
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			if alive, _ := d.state(b); !alive {
				http.Error(w, "simulated outage", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok\n"))
		})
		mux.HandleFunc("/lag", func(w http.ResponseWriter, _ *http.Request) {
			alive, lag := d.state(b)
			if !alive {
				http.Error(w, "simulated outage", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"replication": map[string]any{"lag_seconds": lag}})
		})
		b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		d.backends[r] = b
		go func() { _ = b.srv.Serve(ln) }()
	}
	return d, nil
}

func (d *devBackends) state(b *devBackend) (bool, float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return b.alive, b.lag
}

// rewire points every endpoint of a simulated region at its backend, so
// the embedded config's placeholder ports never matter.
func (d *devBackends) rewire(cfg *config.Config) {
	for zi := range cfg.Zones {
		for ni := range cfg.Zones[zi].Names {
			for ei := range cfg.Zones[zi].Names[ni].Endpoints {
				ep := &cfg.Zones[zi].Names[ni].Endpoints[ei]
				b, ok := d.backends[ep.Region]
				if !ok {
					continue
				}
				if ep.Liveness != nil {
					p := *ep.Liveness
					p.URL = rehost(p.URL, b.addr)
					ep.Liveness = &p
				}
				if ep.Readiness != nil {
					r := *ep.Readiness
					r.URL = rehost(r.URL, b.addr)
					ep.Readiness = &r
				}
			}
		}
	}
	// Endpoints that probed alike may not any more.
	cfg.AssignProbeIDs()
}

func rehost(raw, hostport string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Host = hostport
	return u.String()
}

// SetRegion implements dashboard.Dev.
func (d *devBackends) SetRegion(region string, alive *bool, lagSeconds *float64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.backends[region]
	if !ok {
		return dashboard.ErrUnknownRegion
	}
	if lagSeconds != nil && *lagSeconds < 0 {
		return errors.New("lag_seconds must not be negative")
	}
	if alive != nil {
		b.alive = *alive
	}
	if lagSeconds != nil {
		b.lag = *lagSeconds
	}
	return nil
}

// Regions implements dashboard.Dev.
func (d *devBackends) Regions() []dashboard.DevRegion {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]dashboard.DevRegion, 0, len(d.order))
	for _, r := range d.order {
		b := d.backends[r]
		out = append(out, dashboard.DevRegion{Region: b.region, Alive: b.alive, LagSeconds: b.lag})
	}
	return out
}

func (d *devBackends) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, b := range d.backends {
		_ = b.srv.Shutdown(ctx)
	}
}

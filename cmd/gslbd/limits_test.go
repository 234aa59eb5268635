package main

import (
	"slices"
	"testing"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/connlimit"
)

func TestDeriveConnCaps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mc      config.ConnLimits
		nofile  uint64
		want    connCaps
		lowered []string
	}{
		{"defaults at 1024", config.ConnLimits{}, 1024, connCaps{
			dns: connlimit.Limits{Total: 256, PerSource: 32}, http: connlimit.Limits{Total: 64, PerSource: 16},
			gossip: connlimit.Limits{Total: 64, PerSource: 16}}, nil},
		{"defaults at 1M", config.ConnLimits{}, 1 << 20, connCaps{
			dns: connlimit.Limits{Total: 4096, PerSource: 512}, http: connlimit.Limits{Total: 256, PerSource: 64},
			gossip: connlimit.Limits{Total: 256, PerSource: 64}}, nil},
		{"configured above the share", config.ConnLimits{DNS: 5000, DNSPerSource: 5000, HTTP: 10}, 1024, connCaps{
			dns: connlimit.Limits{Total: 256, PerSource: 256}, http: connlimit.Limits{Total: 10, PerSource: 2},
			gossip: connlimit.Limits{Total: 64, PerSource: 16}}, []string{"listen.max_conns.dns"}},
		{"tiny limit", config.ConnLimits{}, 8, connCaps{
			dns: connlimit.Limits{Total: 2, PerSource: 1}, http: connlimit.Limits{Total: 1, PerSource: 1},
			gossip: connlimit.Limits{Total: 1, PerSource: 1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, lowered := deriveConnCaps(tc.mc, tc.nofile)
			if got != tc.want || !slices.Equal(lowered, tc.lowered) {
				t.Fatalf("got %+v lowered %v, want %+v lowered %v", got, lowered, tc.want, tc.lowered)
			}
			// Whatever the settings, the connections fit in 3/8 of the
			// descriptors, leaving the rest to probes.
			if sum := got.dns.Total + got.http.Total + got.gossip.Total; tc.nofile >= 64 && uint64(sum) > tc.nofile*3/8 {
				t.Errorf("caps sum to %d of %d descriptors", sum, tc.nofile)
			}
		})
	}
}

func TestListenChangedNamesHardeningSettings(t *testing.T) {
	old := &config.Config{}
	cur := &config.Config{}
	cur.Listen.MaxConns.DNS = 10
	cur.Listen.HTTPTLS = config.TLSFiles{CertFile: "c", KeyFile: "k"}
	cur.Listen.HTTPHosts = []string{"gslb.example.net"} // applied by reload
	got := listenChanged(old, cur)
	if !slices.Equal(got, []string{"listen.max_conns", "listen.http_tls"}) {
		t.Fatalf("listenChanged = %v", got)
	}
}

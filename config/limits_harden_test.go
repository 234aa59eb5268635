package config

import (
	"strings"
	"testing"
)

func TestHardenLimits(t *testing.T) {
	base := `
regions:
  - {name: r1, latitude: 1, longitude: 2}
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.example.net.}]
`
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"negative cap", "listen:\n  max_conns: {dns: -1}\n", "listen.max_conns.dns"},
		{"per source above total", "listen:\n  max_conns: {http: 10, http_per_source: 11}\n", "listen.max_conns.http_per_source"},
		{"huge cap", "listen:\n  max_conns: {gossip: 99999999}\n", "listen.max_conns.gossip"},
		{"host with port", "listen:\n  http_hosts: [\"gslb.example.net:8053\"]\n", "listen.http_hosts[0]"},
		{"wildcard host", "listen:\n  http_hosts: [\"*.example.net\"]\n", "listen.http_hosts[0]"},
		{"cert without key", "listen:\n  http_tls: {cert_file: /nonexistent.pem}\n", "listen.http_tls"},
		{"unreadable pair", "listen:\n  http_tls: {cert_file: /nonexistent.pem, key_file: /nonexistent.key}\n", "listen.http_tls"},
		{"bad allow", "cluster:\n  allow: [\"10.0.0.1/8\"]\n", "cluster.allow[0]"},
		{"allow without self", "cluster:\n  bind: 127.0.0.1:7946\n  allow: [\"10.0.0.0/8\"]\n", "cluster.allow"},
		{"allow with wildcard bind", "cluster:\n  bind: 0.0.0.0:7946\n  allow: [\"10.0.0.0/8\"]\n", "cluster.allow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Prepare([]byte(base+tc.yaml), "test.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a problem at %s", err, tc.want)
			}
		})
	}
	cfg, err := Parse([]byte(base+`listen:
  max_conns: {dns: 100, dns_per_source: 10}
  http_hosts: ["GSLB.Example.NET."]
cluster:
  bind: 10.1.2.3:7946
  allow: ["10.0.0.0/8"]
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen.HTTPHosts[0] != "gslb.example.net" || cfg.Listen.MaxConns.DNS != 100 {
		t.Fatalf("normalised: %+v", cfg.Listen)
	}
}

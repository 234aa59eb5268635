// Command gslbd is the global traffic manager daemon: an authoritative DNS
// server for delegated zones that answers with the nearest ready region.
//
// This package owns the wiring only: flags, the zap logger, the Prometheus
// registry, the one publisher goroutine that builds and swaps gslb
// Snapshots, signals (SIGHUP reload, SIGTERM/SIGINT graceful stop), the
// drain state file, the simulated backends of -dev, and the resource
// bounds: raising RLIMIT_NOFILE and deriving every listener's connection
// caps from it (limits.go), and the HTTPS certificate (tlscert.go). The
// subsystems (dns, health, cluster, dashboard) never import each other;
// they meet here through funcs and channels that carry gslb values.
//
// Usage:
//
//	gslbd -config /etc/gslbd/gslbd.yaml
//	gslbd -dev
//	gslbd check -config FILE
//	gslbd simulate [-regions r=host:port,...] [-http ADDR]
package main

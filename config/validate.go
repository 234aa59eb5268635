package config

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Defaults not written next to their fields in config.go.
const (
	defaultDNSListen     = "127.0.0.1:5353"
	defaultHTTPListen    = "127.0.0.1:8053"
	defaultUDPSize       = 1232
	defaultTCPIdle       = 10 * time.Second
	defaultZoneTTL       = 300 * time.Second
	defaultRefresh       = time.Hour
	defaultRetry         = 10 * time.Minute
	defaultExpire        = 168 * time.Hour
	defaultMinimum       = 60 * time.Second
	defaultNameTTL       = 30 * time.Second
	defaultMinTTL        = 5 * time.Second
	defaultFailbackHold  = 60 * time.Second
	defaultInterval      = 5 * time.Second
	defaultTimeout       = 2 * time.Second
	defaultRise          = 2
	defaultFall          = 3
	defaultMaxLag        = 10 * time.Second
	defaultHold          = 30 * time.Second
	defaultIsolationHold = 5 * time.Minute
	maxUDPWorkers        = 256
	defaultWriteGrace    = 10 * time.Second
	defaultStartupLimit  = 30 * time.Second
	maxTTL               = math.MaxInt32 * time.Second
)

var (
	continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
	policies   = []string{"all", "nearest", "failover", "weighted", "geomap"}
)

// checker fills defaults, normalises names and validates one decoded
// Config, adding every problem it finds.
type checker struct {
	c *Config
	p *problems
	// regions maps region name to its index, for valid regions only.
	regions map[string]int
}

func check(c *Config, p *problems) {
	k := &checker{c: c, p: p, regions: map[string]int{}}
	k.node()
	k.listen()
	k.health()
	k.regionList()
	k.geoip()
	k.zones()
	k.cluster()
	k.admin()
	k.hooks()
	k.auditLog()
	k.harden()
	k.protection()
	if len(c.VersionBind) > 255 {
		p.add("version_bind", "must be at most 255 bytes")
	}
}

// lower normalises an enum value; "" stays "" so the default applies.
func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (k *checker) oneOf(path, v string, allowed []string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	k.p.add(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return false
}

// dur defaults *d to def when zero and reports negative values.
func (k *checker) dur(path string, d *Duration, def time.Duration) {
	if *d < 0 {
		k.p.add(path, "must not be negative, got %s", *d)
		*d = Duration(def)
		return
	}
	if *d == 0 {
		*d = Duration(def)
	}
}

// ttl is dur plus the DNS limits: whole seconds up to 2^31-1.
func (k *checker) ttl(path string, d *Duration, def time.Duration) {
	k.dur(path, d, def)
	if d.D()%time.Second != 0 {
		k.p.add(path, "TTL %s must be a whole number of seconds", *d)
	}
	if d.D() > maxTTL {
		k.p.add(path, "TTL %s is above the DNS maximum of %d seconds", *d, math.MaxInt32)
	}
}

// count defaults *n to def when unset; a value written as 0 or below is
// an error (0 is only "unset" when the key is absent).
func (k *checker) count(path string, n *int, def int) {
	if *n < 1 && (k.p.present(path) || *n < 0) {
		k.p.add(path, "must be at least 1, got %d", *n)
	}
	if *n < 1 {
		*n = def
	}
}

// truncate shortens s for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

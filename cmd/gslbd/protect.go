package main

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/dns"
)

// protection is the running response rate limiter and DNS cookie secrets:
// built once at start, then updated in place by config reloads, so RRL
// buckets keep their balances and rotated cookie secrets take effect
// without a restart.
type protection struct {
	rrl     *dns.RRL // nil: RRL off
	table   int      // rrl.table_size at start
	cookies *dns.Cookies
	log     *zap.Logger
}

func newProtection(cfg *config.Config, log *zap.Logger, reg prometheus.Registerer) (*protection, error) {
	p := &protection{cookies: dns.NewCookies(cookieSecrets(cfg.Cookies)), log: log}
	p.cookies.SetRequire(cfg.Cookies.Require)
	if cfg.RRL == nil {
		return p, nil
	}
	r, err := dns.NewRRL(rrlConfig(cfg.RRL), log.Named("rrl"), reg)
	if err != nil {
		return nil, err
	}
	p.rrl, p.table = r, cfg.RRL.TableSize
	return p, nil
}

// run keeps the cookies' clock and sweeps the RRL table until ctx is
// done (see dns.Cookies.Run and dns.RRL.Run).
func (p *protection) run(ctx context.Context) error {
	if p == nil {
		return nil
	}
	if p.rrl == nil {
		return p.cookies.Run(ctx)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = p.cookies.Run(ctx) }) // returns nil when ctx is done
	return p.rrl.Run(ctx)
}

// reload applies cfg's rrl and cookies sections and returns the settings
// that need a restart instead: turning RRL on or off, and its table size.
func (p *protection) reload(cfg *config.Config) []string {
	if p == nil { // a publisher built without DNS (tests)
		return nil
	}
	p.cookies.SetSecrets(cookieSecrets(cfg.Cookies))
	p.cookies.SetRequire(cfg.Cookies.Require)
	switch {
	case (cfg.RRL == nil) != (p.rrl == nil):
		return []string{"rrl (turning rate limiting on or off)"}
	case p.rrl == nil:
		return nil
	}
	if err := p.rrl.Reconfigure(rrlConfig(cfg.RRL)); err != nil {
		// config validates the same ranges, so this is a programming error.
		p.log.Error("rrl settings not applied", zap.Error(err))
	}
	if cfg.RRL.TableSize != p.table {
		return []string{"rrl.table_size"}
	}
	return nil
}

func rrlConfig(r *config.RRL) dns.RRLConfig {
	return dns.RRLConfig{
		ResponsesPerSecond: r.ResponsesPerSecond,
		ErrorsPerSecond:    r.ErrorsPerSecond,
		NXDomainsPerSecond: r.NXDomainsPerSecond,
		Window:             r.Window.D(),
		Slip:               r.Slip,
		IPv4Prefix:         r.IPv4Prefix,
		IPv6Prefix:         r.IPv6Prefix,
		Exempt:             r.ExemptPrefixes,
		LogOnly:            r.LogOnly,
		TableSize:          r.TableSize,
	}
}

func cookieSecrets(c config.Cookies) []dns.CookieSecret {
	var out []dns.CookieSecret
	for _, s := range c.SecretBytes() {
		out = append(out, dns.CookieSecret(s))
	}
	return out
}

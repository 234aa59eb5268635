package main

import (
	"syscall"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/connlimit"
)

// raiseFDLimit raises the soft RLIMIT_NOFILE to the hard limit (Go's
// runtime does so too on Linux; this makes it explicit and portable) and
// returns the limit in force. Connection caps are derived from it.
func raiseFDLimit(log *zap.Logger) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		log.Warn("cannot read the file-descriptor limit; assuming 1024", zap.Error(err))
		return 1024
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			log.Warn("cannot raise the file-descriptor limit", zap.Uint64("soft", rl.Cur), zap.Uint64("hard", rl.Max), zap.Error(err))
		} else {
			rl = raised
		}
	}
	return rl.Cur
}

// connCaps are the connection caps of the three TCP listener kinds.
type connCaps struct {
	dns, http, gossip connlimit.Limits
}

// Shares of the descriptor limit that each listener kind may hold, and
// the defaults below those shares. Together the connections can take at
// most 3/8 of the descriptors, leaving the rest to probes, lag sources,
// gossip packets, files and the runtime.
const (
	dnsShareDiv      = 4
	otherShareDiv    = 16
	defaultDNSConns  = 4096
	defaultOtherConn = 256
)

// deriveConnCaps resolves listen.max_conns against the descriptor limit:
// zero values take the defaults, and every cap is lowered to its share of
// nofile. It returns the caps and the settings it had to lower.
func deriveConnCaps(mc config.ConnLimits, nofile uint64) (connCaps, []string) {
	nofile = min(nofile, 1<<24)
	var lowered []string
	one := func(name string, total, per int, share uint64, def, perDiv int) connlimit.Limits {
		shareN := max(int(share), 1)
		if total == 0 {
			total = min(def, shareN)
		} else if total > shareN {
			lowered = append(lowered, "listen.max_conns."+name)
			total = shareN
		}
		if per == 0 {
			per = max(total/perDiv, 1)
		}
		if per > total {
			per = total
		}
		return connlimit.Limits{Total: total, PerSource: per}
	}
	return connCaps{
		dns:    one("dns", mc.DNS, mc.DNSPerSource, nofile/dnsShareDiv, defaultDNSConns, 8),
		http:   one("http", mc.HTTP, mc.HTTPPerSource, nofile/otherShareDiv, defaultOtherConn, 4),
		gossip: one("gossip", mc.Gossip, mc.GossipPerSource, nofile/otherShareDiv, defaultOtherConn, 4),
	}, lowered
}

func capFields(c connCaps, nofile uint64) []zap.Field {
	return []zap.Field{
		zap.Uint64("fd_limit", nofile),
		zap.Int("dns", c.dns.Total), zap.Int("dns_per_source", c.dns.PerSource),
		zap.Int("http", c.http.Total), zap.Int("http_per_source", c.http.PerSource),
		zap.Int("gossip", c.gossip.Total), zap.Int("gossip_per_source", c.gossip.PerSource),
	}
}

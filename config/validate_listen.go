package config

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Validation of node, listen and admin.

func (k *checker) node() {
	if k.c.Node == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "gslbd"
		}
		k.c.Node = h
		return
	}
	if strings.ContainsFunc(k.c.Node, isSpace) {
		k.p.add("node", "node name %q must not contain spaces", k.c.Node)
	}
	k.lengthLimit("node", "node name", k.c.Node, maxNodeLen)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// hostPort checks a socket address; with ipOnly the host must be an IP
// literal or empty (listen addresses), otherwise a host name is fine too.
func hostPort(v string, ipOnly bool) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port", v)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q must be a number from 0 to 65535", v, port)
	}
	if host == "" {
		return nil
	}
	if _, err := parseAddr(host); err == nil {
		return nil
	}
	if ipOnly {
		return fmt.Errorf("%q: host %q must be an IP address or empty", v, host)
	}
	if err := checkName(absolute(host)); err != nil {
		return fmt.Errorf("%q: host %q is neither an IP address nor a host name", v, host)
	}
	return nil
}

func (k *checker) listen() {
	l := &k.c.Listen
	if len(l.DNS) == 0 {
		l.DNS = []string{defaultDNSListen}
	}
	seen := map[string]bool{}
	for i, a := range l.DNS {
		path := fmt.Sprintf("listen.dns[%d]", i)
		if err := hostPort(a, true); err != nil {
			k.p.add(path, "%v", err)
		}
		if seen[a] {
			k.p.add(path, "duplicate listen address %q", a)
		}
		seen[a] = true
	}
	// An explicit http: "" disables the HTTP listener; absent means default.
	if l.HTTP == "" && !k.p.present("listen.http") {
		l.HTTP = defaultHTTPListen
	}
	if l.HTTP != "" {
		if err := hostPort(l.HTTP, true); err != nil {
			k.p.add("listen.http", "%v", err)
		}
	}
	if l.UDPSize == 0 {
		l.UDPSize = defaultUDPSize
	} else if l.UDPSize < 512 || l.UDPSize > maxUDPSize {
		k.p.add("listen.udp_size", "must be from 512 to %d, got %d", maxUDPSize, l.UDPSize)
	}
	switch {
	case l.UDPWorkers == 0:
		l.UDPWorkers = runtime.GOMAXPROCS(0)
	case l.UDPWorkers < 0 || l.UDPWorkers > maxUDPWorkers:
		k.p.add("listen.udp_workers", "must be between 1 and %d, got %d", maxUDPWorkers, l.UDPWorkers)
	}
	k.dur("listen.tcp_idle_timeout", &l.TCPIdleTimeout, defaultTCPIdle)
	if l.TCPIdleTimeout.D() > maxTCPIdle {
		k.p.add("listen.tcp_idle_timeout", "must be at most %s, got %s", maxTCPIdle, l.TCPIdleTimeout)
	}
}

func (k *checker) admin() {
	a := &k.c.Admin
	if a.Token != "" && a.TokenFile != "" {
		k.p.add("admin", "set token or token_file, not both")
	}
	if a.Token != "" {
		a.Secret = strings.TrimSpace(a.Token)
		checkToken(k.p, "admin.token", a.Secret)
	}
}

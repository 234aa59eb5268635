package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/internal/testenv"
)

// unboundPath is where Debian's `unbound` package installs the daemon.
const unboundPath = "/usr/sbin/unbound"

// TestUnboundDelegation puts a real recursive resolver in front of gslbd,
// the way the zone is used in production: Unbound holds a stub zone for
// gslb.test pointing at gslbd, forwards its clients' ECS option and keeps
// the answers in its subnet cache. Two clients on two continents asking the
// same resolver must each get their own region, also from the cache.
func TestUnboundDelegation(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	if _, err := os.Stat(unboundPath); err != nil {
		testenv.SkipOrFail(t, fmt.Sprintf("unbound not installed (%v): apt-get install unbound, or make deps", err))
	}

	n := startNode(t, "-dev")
	start := time.Now()
	n.waitDevReady()
	t.Logf("gslbd -dev: every endpoint ready after %v", time.Since(start))

	ub := startUnbound(t, n.udp)

	// Each client subnet reaches gslbd through the resolver. The first
	// round fills Unbound's subnet cache, the second must be served from it.
	clients := []struct {
		subnet, want string
	}{{london, euWest}, {changchun, apSoutheast}}
	initial := gslbdQueries(t, n)
	filled := time.Now()
	ttl := uint32(0) // the shortest TTL cached in the first round
	for _, c := range clients {
		r := ub.mustQuery(t, "app.gslb.test", mdns.TypeA, c.subnet)
		if r.Rcode != mdns.RcodeSuccess {
			t.Fatalf("app.gslb.test from %s via unbound: rcode %s", c.subnet, mdns.RcodeToString[r.Rcode])
		}
		if got := answerAddrs(r); !equalAddrs(got, c.want) {
			t.Fatalf("app.gslb.test from %s via unbound: got %v, want %s", c.subnet, got, c.want)
		}
		t.Logf("app.gslb.test from %s via unbound: %v, ttl %d, ECS scope in the resolver's reply %d (-1: none)",
			c.subnet, answerAddrs(r), r.Answer[0].Header().Ttl, ecsScope(r))
		if h := r.Answer[0].Header(); ttl == 0 || h.Ttl < ttl {
			ttl = h.Ttl
		}
		if s := ecsScope(r); s == 0 {
			t.Errorf("app.gslb.test from %s via unbound: ECS scope 0, the answer would be shared with every client", c.subnet)
		}
	}

	// gslbd counts a query just after writing its reply: wait until both
	// first-round answers are counted before taking the baseline.
	var before float64
	waitFor(t, "gslbd to count the first round", 10*time.Second, func() bool {
		before = gslbdQueries(t, n)
		return before >= initial+float64(len(clients))
	})
	t.Logf("first round: %v queries reached gslbd", before-initial)
	for _, c := range clients {
		r := ub.mustQuery(t, "app.gslb.test", mdns.TypeA, c.subnet)
		if got := answerAddrs(r); r.Rcode != mdns.RcodeSuccess || !equalAddrs(got, c.want) {
			t.Fatalf("app.gslb.test from %s via unbound, second time: rcode %s, got %v, want %s",
				c.subnet, mdns.RcodeToString[r.Rcode], got, c.want)
		}
		t.Logf("app.gslb.test from %s via unbound, again: %v, ttl %d, ECS scope %d",
			c.subnet, answerAddrs(r), r.Answer[0].Header().Ttl, ecsScope(r))
	}
	after := gslbdQueries(t, n)
	switch elapsed := time.Since(filled); {
	case elapsed >= time.Duration(ttl)*time.Second:
		// Only on a badly overloaded machine: the cached answers may have
		// expired, so a new query to gslbd would be correct behaviour.
		t.Logf("cache check skipped: the repeat came %v after the first round, TTL %ds", elapsed, ttl)
	case after != before:
		t.Errorf("the repeated queries reached gslbd (%v -> %v queries); Unbound should have answered them from its subnet cache", before, after)
	}

	// A static record, and a name the zone does not have.
	r := ub.mustQuery(t, "www.gslb.test", mdns.TypeA, "")
	if got := answerAddrs(r); r.Rcode != mdns.RcodeSuccess || !equalAddrs(got, "192.0.2.80") {
		t.Errorf("www.gslb.test via unbound: rcode %s, got %v, want 192.0.2.80", mdns.RcodeToString[r.Rcode], got)
	}
	r = ub.mustQuery(t, "nosuchname.gslb.test", mdns.TypeA, "")
	if r.Rcode != mdns.RcodeNameError {
		t.Errorf("nosuchname.gslb.test via unbound: rcode %s, want NXDOMAIN", mdns.RcodeToString[r.Rcode])
	}
	if len(r.Ns) == 0 {
		t.Errorf("nosuchname.gslb.test via unbound: NXDOMAIN without the zone's SOA")
	}
}

// unbound is one running Unbound process.
type unbound struct {
	addr string
	logs *lockedBuffer
	cmd  *exec.Cmd
	done chan error
}

// startUnbound writes a config with a stub zone for gslb.test pointing at
// gslbdUDP, checks it with unbound-checkconf, runs Unbound in the
// foreground and waits until it answers. Binding a port picked by the test
// can race with other processes, so a start that fails is retried on
// another port a few times.
func startUnbound(t *testing.T, gslbdUDP string) *unbound {
	t.Helper()
	host, gport, err := net.SplitHostPort(gslbdUDP)
	if err != nil {
		t.Fatalf("gslbd udp address %q: %v", gslbdUDP, err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		dir := t.TempDir()
		port := freePort(t)
		conf := filepath.Join(dir, "unbound.conf")
		if err := os.WriteFile(conf, []byte(unboundConfig(dir, port, host, gport)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(unboundPath+"-checkconf", conf).CombinedOutput(); err != nil {
			t.Fatalf("unbound-checkconf %s: %v\n%s", conf, err, out)
		}
		ub, err := runUnbound(t, conf, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return ub
		}
		lastErr = err
		t.Logf("unbound attempt %d on port %d: %v", attempt+1, port, err)
	}
	t.Fatalf("unbound did not start: %v", lastErr)
	return nil
}

// unboundConfig is a minimal resolver config. Every option is documented in
// unbound.conf(5); the ones that matter here:
//   - local-zone "test." nodefault: test. is a default static local zone
//     (RFC 6761) that would answer NXDOMAIN without asking anyone.
//   - do-not-query-localhost no: by default 127.0.0.0/8 is never queried.
//   - module-config "subnetcache iterator" and send-client-subnet
//     127.0.0.1: the ECS module forwards a client's ECS option only to
//     authorities listed in send-client-subnet (or to names under a
//     client-subnet-zone) and keeps the answers in its per-subnet cache.
//   - max-client-subnet-ipv4 32: the default of 24 would cut a client's /27
//     down to a /24 before gslbd saw it.
//   - no trust anchor and no validator module: gslb.test is unsigned.
func unboundConfig(dir string, port int, gslbdHost, gslbdPort string) string {
	return fmt.Sprintf(`server:
	interface: 127.0.0.1@%[2]d
	port: %[2]d
	do-ip6: no
	do-daemonize: no
	chroot: ""
	username: ""
	directory: %[1]q
	pidfile: %[3]q
	use-syslog: no
	logfile: ""
	verbosity: 1
	num-threads: 1
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	local-zone: "test." nodefault
	domain-insecure: "gslb.test"
	harden-referral-path: no
	qname-minimisation: no
	module-config: "subnetcache iterator"
	send-client-subnet: %[4]s
	max-client-subnet-ipv4: 32
remote-control:
	control-enable: no
stub-zone:
	name: "gslb.test"
	stub-addr: %[4]s@%[5]s
`, dir, port, filepath.Join(dir, "unbound.pid"), gslbdHost, gslbdPort)
}

// runUnbound starts `unbound -d -c conf` and waits until it answers on addr
// with its built-in localhost. zone, which needs no upstream. The process
// is killed in t.Cleanup, and its log is printed when the test failed.
func runUnbound(t *testing.T, conf, addr string) (*unbound, error) {
	t.Helper()
	ub := &unbound{addr: addr, logs: &lockedBuffer{}, done: make(chan error, 1)}
	ub.cmd = exec.Command(unboundPath, "-d", "-c", conf)
	ub.cmd.Stdout = ub.logs
	ub.cmd.Stderr = ub.logs
	if err := ub.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { ub.done <- ub.cmd.Wait() }()
	t.Cleanup(func() {
		ub.stop(t)
		if t.Failed() {
			t.Logf("unbound log:\n%s", ub.logs.String())
		}
	})

	start := time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		select {
		case err := <-ub.done:
			ub.done <- err
			return nil, fmt.Errorf("unbound exited: %v\n%s", err, ub.logs.String())
		default:
		}
		r, err := ub.query("localhost.", mdns.TypeA, "")
		if err == nil && r.Rcode == mdns.RcodeSuccess && equalAddrs(answerAddrs(r), "127.0.0.1") {
			t.Logf("unbound answering on %s after %v", addr, time.Since(start))
			return ub, nil
		}
		time.Sleep(100 * time.Millisecond) // poll interval, bounded above
	}
	ub.stop(t)
	return nil, fmt.Errorf("unbound did not answer on %s within 20s\n%s", addr, ub.logs.String())
}

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (ub *unbound) stop(t *testing.T) {
	if ub.cmd.Process == nil {
		return
	}
	select {
	case err := <-ub.done:
		ub.done <- err
		return
	default:
	}
	_ = ub.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-ub.done:
		ub.done <- err
	case <-time.After(5 * time.Second):
		_ = ub.cmd.Process.Kill()
		select {
		case err := <-ub.done:
			ub.done <- err
		case <-time.After(5 * time.Second):
			t.Errorf("unbound (pid %d) did not exit after SIGKILL", ub.cmd.Process.Pid)
		}
	}
}

// query asks Unbound over UDP (RD set); subnet may be "" or "a.b.c.d/len".
func (ub *unbound) query(name string, qtype uint16, subnet string) (*mdns.Msg, error) {
	return exchangeECS(ub.addr, name, qtype, subnet, 5*time.Second)
}

func (ub *unbound) mustQuery(t *testing.T, name string, qtype uint16, subnet string) *mdns.Msg {
	t.Helper()
	r, err := ub.query(name, qtype, subnet)
	if err != nil {
		t.Fatalf("%s %s from %q via unbound: %v", name, mdns.TypeToString[qtype], subnet, err)
	}
	return r
}

// gslbdQueries sums gslbd_dns_queries_total over all its labels from
// /metrics: every query that reached gslbd, whatever its type or answer.
// Before the first query the vector has no series at all, which is 0.
func gslbdQueries(t *testing.T, n *node) float64 {
	t.Helper()
	code, body := n.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gslbd_dns_queries_total{") && !strings.HasPrefix(line, "gslbd_dns_queries_total ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return sum
}

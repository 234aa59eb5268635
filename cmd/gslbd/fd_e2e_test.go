package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/internal/testenv"
)

// nofileLimit is the descriptor limit the exhaustion tests run gslbd
// under: the common default soft limit.
const nofileLimit = 1024

// prlimitWrapper returns the command that runs gslbd with RLIMIT_NOFILE at
// nofileLimit (soft and hard), or skips the test without prlimit.
func prlimitWrapper(t *testing.T) []string {
	t.Helper()
	path := testenv.NeedTool(t, "prlimit", "util-linux")
	return []string{path, fmt.Sprintf("--nofile=%d:%d", nofileLimit, nofileLimit)}
}

// idleConns opens n TCP connections to addr from 127.0.0.1, sends hello
// on each, reads one reply chunk where the server keeps the connection,
// and then leaves them idle. It returns them (still open) and how many
// the server closed or reset at once.
func idleConns(t *testing.T, addr string, n int, hello []byte) ([]net.Conn, int) {
	t.Helper()
	var (
		mu      sync.Mutex
		conns   []net.Conn
		refused int
	)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range jobs {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					mu.Lock()
					refused++
					mu.Unlock()
					continue
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Write(hello)
				if err == nil {
					_, err = c.Read(make([]byte, 512))
				}
				_ = c.SetDeadline(time.Time{})
				mu.Lock()
				if err != nil {
					refused++
					c.Close()
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return conns, refused
}

func dnsTCPQuery(t *testing.T) []byte {
	t.Helper()
	q := new(mdns.Msg)
	q.SetQuestion("app.gslb.test.", mdns.TypeA)
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// metricSum sums a metric's samples whose line contains every filter.
func metricSum(t *testing.T, n *node, name string, filters ...string) float64 {
	t.Helper()
	code, body := n.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, f := range filters {
			if !strings.Contains(line, f) {
				continue lines
			}
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// procStats reads a process's resident memory (kB) and open descriptors.
func procStats(t *testing.T, pid int) (rssKB, fds int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			rssKB, _ = strconv.Atoi(f[1])
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return rssKB, len(ents)
}

// TestFDExhaustionKeepsEndpointsReady is issue 11's first finding: about
// 1,010 idle DNS-over-TCP connections (or idle HTTP keep-alive ones)
// filled a 1024-descriptor node, every probe failed with "too many open
// files", every endpoint went down and the write name failed over. With
// connection caps far below the limit the node keeps probing: endpoints
// stay ready, UDP keeps answering, the write name stays where it is.
func TestFDExhaustionKeepsEndpointsReady(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	n := startNodeUnder(t, prlimitWrapper(t), "-dev")
	n.waitDevReady()
	london := "81.2.69.160/27"
	app0, db0 := n.answersFor("app.gslb.test", london), n.answersFor("db.gslb.test", "")
	if len(app0) == 0 || len(db0) == 0 {
		t.Fatalf("no initial answers: app %v db %v", app0, db0)
	}
	pid := n.cmd.Process.Pid
	rss0, fds0 := procStats(t, pid)

	const idle = 1010
	dnsConns, dnsRefused := idleConns(t, n.tcp, idle, dnsTCPQuery(t))
	httpConns, httpRefused := idleConns(t, n.http, idle, []byte("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
	defer func() {
		for _, c := range append(dnsConns, httpConns...) {
			c.Close()
		}
	}()
	rss1, fds1 := procStats(t, pid)
	t.Logf("idle connections held: DNS %d (refused %d), HTTP %d (refused %d); gslbd fds %d -> %d, RSS %d -> %d kB",
		len(dnsConns), dnsRefused, len(httpConns), httpRefused, fds0, fds1, rss0, rss1)
	if fds1 >= nofileLimit/2 {
		t.Errorf("gslbd holds %d descriptors of %d", fds1, nofileLimit)
	}
	if dnsRefused == 0 || httpRefused == 0 {
		t.Errorf("no connection refused: the caps did not apply")
	}

	// Several probe rounds (-dev: interval 1s, fall 2) while the idle
	// connections are held, inside the 10s TCP idle timeout.
	deadline := time.Now().Add(6 * time.Second)
	rounds := 0
	for time.Now().Before(deadline) {
		app, db := n.answersFor("app.gslb.test", london), n.answersFor("db.gslb.test", "")
		if !equalAddrs(app, app0...) || !equalAddrs(db, db0...) {
			t.Fatalf("after %d rounds the answers moved: app %v (was %v), db %v (was %v)", rounds, app, app0, db, db0)
		}
		rounds++
		time.Sleep(200 * time.Millisecond)
	}
	for _, c := range append(dnsConns, httpConns...) {
		c.Close()
	}
	dnsConns, httpConns = nil, nil

	// Now the API is reachable from this source again.
	waitFor(t, "readyz", 10*time.Second, func() bool { code, _ := n.get("/readyz"); return code == 200 })
	if down := metricSum(t, n, "gslbd_health_transitions_total", `to="down"`); down != 0 {
		t.Errorf("%v endpoint transitions to down while the connections were held", down)
	}
	if e := metricSum(t, n, "gslbd_probe_errors_total"); e != 0 {
		t.Errorf("%v probes could not run for a local reason", e)
	}
	for _, e := range n.state().Endpoints {
		if e.State.String() != "ready" {
			t.Errorf("endpoint %s is %s", e.ID, e.State)
		}
	}
	if r := metricSum(t, n, "gslbd_dns_tcp_refused_total"); r == 0 {
		t.Error("gslbd_dns_tcp_refused_total is 0")
	}
	if r := metricSum(t, n, "gslbd_http_tcp_refused_total"); r == 0 {
		t.Error("gslbd_http_tcp_refused_total is 0")
	}
	if strings.Contains(n.logs.String(), "too many open files") {
		t.Error("the log mentions EMFILE")
	}
}

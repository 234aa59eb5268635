package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/dashboard"
	"github.com/gslbd/gslbd/gslb"
)

// The end-to-end tests drive the real binary: it is built once per test
// run, and every node listens on 127.0.0.1 port 0 and reports its
// addresses in its JSON log.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func gslbdBinary(t testing.TB) string {
	t.Helper()
	// GSLBD_TEST_BIN runs the tests against another build, e.g. an older
	// one to show that a regression test fails there.
	if b := os.Getenv("GSLBD_TEST_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gslbd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gslbd")
		args := []string{"build", "-o", binPath}
		// Tests run the daemon under the race detector; benchmarks measure
		// the binary an operator would run.
		if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// lockedBuffer collects a process's output for assertions and failure logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// node is one running gslbd process.
type node struct {
	t      testing.TB
	args   []string
	opts   nodeOpts
	cmd    *exec.Cmd
	logs   *lockedBuffer
	stdout *lockedBuffer
	udp    string
	tcp    string
	http   string
	done   chan error
}

// nodeOpts place a node: wrap runs the binary through a command (such
// as "ip netns exec NS"); host is the address its DNS and HTTP listeners
// bind (port 0), 127.0.0.1 when empty.
type nodeOpts struct {
	wrap []string
	host string
}

// startNode runs gslbd with args plus port-0 listeners and JSON logs, and
// waits until it has bound its sockets.
func startNode(t testing.TB, args ...string) *node {
	t.Helper()
	return startNodeOpts(t, nodeOpts{}, args...)
}

// startNodeUnder is startNode with gslbd run by a wrapper command, such
// as prlimit; the wrapper must exec gslbd (same process).
func startNodeUnder(t testing.TB, wrapper []string, args ...string) *node {
	t.Helper()
	return startNodeOpts(t, nodeOpts{wrap: wrapper}, args...)
}

func startNodeOpts(t testing.TB, o nodeOpts, args ...string) *node {
	t.Helper()
	bin := gslbdBinary(t)
	host := o.host
	if host == "" {
		host = "127.0.0.1"
	}
	listen := net.JoinHostPort(host, "0")
	full := append([]string{"-log-format", "json", "-dns", listen, "-http", listen, "-lameduck", "200ms"}, args...)
	cmd := exec.Command(bin, full...)
	if len(o.wrap) > 0 {
		cmd = exec.Command(o.wrap[0], append(append(o.wrap[1:], bin), full...)...)
	}
	pr, pw := io.Pipe()
	n := &node{t: t, args: args, opts: o, cmd: cmd, logs: &lockedBuffer{}, stdout: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = pw
	cmd.Stdout = n.stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 8)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = n.logs.Write([]byte(line + "\n"))
			var ev struct {
				Msg   string `json:"msg"`
				Proto string `json:"proto"`
				Addr  string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "listening" {
				addrs <- [2]string{ev.Proto, ev.Addr}
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		n.done <- err
	}()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			t.Logf("gslbd %v logs:\n%s", args, n.logs.String())
		}
	})
	deadline := time.After(60 * time.Second)
	for n.udp == "" || n.tcp == "" || n.http == "" {
		select {
		case a := <-addrs:
			switch a[0] {
			case "udp":
				n.udp = a[1]
			case "tcp":
				n.tcp = a[1]
			case "http":
				n.http = a[1]
			}
		case err := <-n.done:
			n.done <- err
			t.Fatalf("gslbd exited before listening: %v\n%s", err, n.logs.String())
		case <-deadline:
			t.Fatalf("gslbd did not report its listeners in time:\n%s", n.logs.String())
		}
	}
	return n
}

// restart stops the node and starts it again with the same arguments
// (new ports for DNS and HTTP).
func (n *node) restart() *node {
	n.t.Helper()
	n.stop()
	return startNodeOpts(n.t, n.opts, n.args...)
}

// crash kills the node with SIGKILL (no leave, no last state save) and
// starts it again with the same arguments.
func (n *node) crash() *node {
	n.t.Helper()
	if !n.exited() {
		_ = n.cmd.Process.Kill()
		err := <-n.done
		n.done <- err
	}
	return startNodeOpts(n.t, n.opts, n.args...)
}

// exited reports whether the process has been waited for. It reads the
// done channel rather than cmd.ProcessState, which the waiting goroutine
// writes.
func (n *node) exited() bool {
	select {
	case err := <-n.done:
		n.done <- err
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits (bounded) for the process to exit.
func (n *node) stop() {
	if n.exited() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		n.done <- err
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		n.t.Errorf("gslbd did not stop within 15s of SIGTERM")
	}
}

// query asks the node over UDP; subnet may be "" or "a.b.c.d/len".
func (n *node) query(name string, qtype uint16, subnet string) (*mdns.Msg, error) {
	return exchangeECS(n.udp, name, qtype, subnet, 2*time.Second)
}

// exchangeECS sends one UDP query with EDNS0 and, when subnet is not "",
// an ECS option for it.
func exchangeECS(addr, name string, qtype uint16, subnet string, timeout time.Duration) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	m.SetEdns0(1232, false)
	if subnet != "" {
		_, ipnet, err := net.ParseCIDR(subnet)
		if err != nil {
			return nil, err
		}
		bits, _ := ipnet.Mask.Size()
		e := &mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(bits), Address: ipnet.IP}
		if ipnet.IP.To4() == nil {
			e.Family = 2
		}
		m.IsEdns0().Option = append(m.IsEdns0().Option, e)
	}
	c := &mdns.Client{Net: "udp", Timeout: timeout}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

// waitDevReady waits until a -dev node is ready and all six endpoints of
// its two GSLB names are agreed ready.
func (n *node) waitDevReady() {
	n.t.Helper()
	waitFor(n.t, "node ready", 30*time.Second, func() bool { code, _ := n.get("/readyz"); return code == 200 })
	waitFor(n.t, "every endpoint ready", 30*time.Second, func() bool {
		st := n.state()
		for _, e := range st.Endpoints {
			if e.State != gslb.Ready {
				return false
			}
		}
		return len(st.Endpoints) == 6 // 3 regions x 2 names
	})
}

// answerAddrs returns the A/AAAA addresses of a reply, in order.
func answerAddrs(r *mdns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, v.A.String())
		case *mdns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out
}

// ecsScope returns the ECS scope of a reply, -1 without ECS.
func ecsScope(r *mdns.Msg) int {
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*mdns.EDNS0_SUBNET); ok {
				return int(e.SourceScope)
			}
		}
	}
	return -1
}

func (n *node) get(path string) (int, string) {
	n.t.Helper()
	resp, err := http.Get("http://" + n.http + path)
	if err != nil {
		n.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// state decodes /api/v1/state.
func (n *node) state() dashboard.StateResponse {
	n.t.Helper()
	code, body := n.get("/api/v1/state")
	var st dashboard.StateResponse
	if code != 200 {
		n.t.Fatalf("/api/v1/state: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		n.t.Fatalf("decode /api/v1/state: %v", err)
	}
	return st
}

// endpoint returns one endpoint's row of /api/v1/state (zero if absent).
func (n *node) endpoint(id string) dashboard.EndpointRow {
	for _, e := range n.state().Endpoints {
		if e.ID == id {
			return e
		}
	}
	return dashboard.EndpointRow{}
}

func (n *node) post(path, token, body string) int {
	n.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.http+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond every 100ms until it holds or the deadline passes.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", within, what)
		case <-tick.C:
		}
	}
}

// answersFor returns the addresses answered for name from subnet, or nil.
func (n *node) answersFor(name, subnet string) []string {
	r, err := n.query(name, mdns.TypeA, subnet)
	if err != nil || r.Rcode != mdns.RcodeSuccess {
		return nil
	}
	return answerAddrs(r)
}

func equalAddrs(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// freePort finds a port free for both TCP and UDP on 127.0.0.1, for
// memberlist, whose seeds must be known before the nodes start.
func freePort(t testing.TB) int {
	return freePortOn(t, "127.0.0.1")
}

// freePortOn is freePort on another local address (a test's namespace link).
func freePortOn(t testing.TB, host string) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(host, fmt.Sprint(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

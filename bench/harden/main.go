// Command harden reproduces issue 11's resource findings against a built
// gslbd binary and prints memory, descriptor, CPU and log numbers, so a
// fix can be compared with an older build on the same reproduction. It
// talks to 127.0.0.1 only.
//
//	go build -o bin/gslbd ./cmd/gslbd
//	go run ./bench/harden -mode fds -bin bin/gslbd       # 1,010 idle DNS/TCP conns at 1024 fds
//	go run ./bench/harden -mode gossip -bin bin/gslbd    # ten 20 MiB unauthenticated gossip streams
//	go run ./bench/harden -mode hostile -bin bin/gslbd   # 1,000 hostile gossip packets: log lines
//	go run ./bench/harden -mode maxconns -bin bin/gslbd  # hold 4096 DNS + 256 HTTP connections
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func procStat(pid int) (rssKB, hwmKB, fds int, cpuTicks int) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			rssKB, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			hwmKB, _ = strconv.Atoi(f[1])
		}
	}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	s, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	st := string(s)
	if i := strings.LastIndex(st, ")"); i > 0 {
		f := strings.Fields(st[i+2:])
		u, _ := strconv.Atoi(f[11])
		k, _ := strconv.Atoi(f[12])
		cpuTicks = u + k
	}
	return rssKB, hwmKB, len(ents), cpuTicks
}

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "harden: "+format+"\n", args...)
	os.Exit(1)
}

func freePort() int {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func start(bin string, nofile int, args ...string) (*exec.Cmd, string) {
	var cmd *exec.Cmd
	if nofile > 0 {
		cmd = exec.Command("prlimit", append([]string{fmt.Sprintf("--nofile=%d:%d", nofile, nofile), bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	logf, _ := os.CreateTemp("", "gslbd-log-")
	cmd.Stderr = logf
	cmd.Stdout = logf
	if err := cmd.Start(); err != nil {
		die("start %s: %v", bin, err)
	}
	return cmd, logf.Name()
}

func waitTCP(addr string) {
	for i := 0; i < 300; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	die("gslbd not listening on %s after 30s", addr)
}

func main() {
	mode := flag.String("mode", "gossip", "gossip or fds")
	bin := flag.String("bin", "", "gslbd binary")
	flag.Parse()
	switch *mode {
	case "gossip":
		gossip(*bin)
	case "fds":
		fds(*bin)
	case "hostile":
		hostile(*bin)
	case "maxconns":
		maxconns(*bin)
	}
}

// gossip: ten connections each announce a 20 MiB encrypted stream and send it.
func gossip(bin string) {
	cmd, logp, gp := startGossipNode(bin, "gossip-")
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	rss0, _, _, _ := procStat(pid)
	junk := make([]byte, 64<<10)
	var wg sync.WaitGroup
	sentTotal := make([]int, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", gp))
			if err != nil {
				return
			}
			defer c.Close()
			hdr := []byte{10, 0, 0, 0, 0}
			binary.BigEndian.PutUint32(hdr[1:], 20<<20-1)
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			c.Write(hdr)
			for sentTotal[i] < 20<<20 {
				n, err := c.Write(junk)
				sentTotal[i] += n
				if err != nil {
					break
				}
			}
			time.Sleep(2 * time.Second) // hold while memberlist decrypts
		}()
	}
	peak := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-time.After(100 * time.Millisecond):
			r, _, _, _ := procStat(pid)
			peak = max(peak, r)
		}
	}
	_, hwm, _, _ := procStat(pid)
	total := 0
	for _, s := range sentTotal {
		total += s
	}
	logb, _ := os.ReadFile(logp)
	lines := strings.Count(string(logb), "\n")
	fmt.Printf("gossip %s: RSS before %d kB, peak sampled %d kB, VmHWM %d kB; bytes accepted from 10 streams %d MiB; log lines %d\n",
		filepath.Base(bin), rss0, peak, hwm, total>>20, lines)
}

// fds: -dev under 1024 descriptors, 1010 idle DNS TCP connections.
func fds(bin string) {
	dp, hp := freePort(), freePort()
	cmd, _ := start(bin, 1024, "-dev", "-dns", fmt.Sprintf("127.0.0.1:%d", dp), "-http", fmt.Sprintf("127.0.0.1:%d", hp), "-log-format", "json")
	defer cmd.Process.Kill()
	waitTCP(fmt.Sprintf("127.0.0.1:%d", hp))
	time.Sleep(5 * time.Second)
	pid := cmd.Process.Pid
	rss0, _, fd0, _ := procStat(pid)
	var conns []net.Conn
	held := 0
	for i := 0; i < 1010; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", dp), 2*time.Second)
		if err != nil {
			continue
		}
		conns = append(conns, c)
	}
	// every connection sends one query; count replies
	q := []byte{0, 29, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'p', 'p', 4, 'g', 's', 'l', 'b', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1}
	for _, c := range conns {
		c.Write(q)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := bufio.NewReader(c).ReadByte(); err == nil {
			held++
		}
		c.SetReadDeadline(time.Time{})
	}
	_, _, _, cpu0 := procStat(pid)
	t0 := time.Now()
	time.Sleep(5 * time.Second)
	rss1, _, fd1, cpu1 := procStat(pid)
	el := time.Since(t0).Seconds()
	fmt.Printf("fds %s: answered on %d of 1010 idle TCP conns; fds %d -> %d; RSS %d -> %d kB; CPU while idle-held %.0f%% of a core\n",
		filepath.Base(bin), held, fd0, fd1, rss0, rss1, float64(cpu1-cpu0)/100/el*100)
	for _, c := range conns {
		c.Close()
	}
}

// hostile: 1000 UDP packets with a foreign label and terminal escapes.
func hostile(bin string) {
	cmd, logp, gp := startGossipNode(bin, "hostile-")
	defer cmd.Process.Kill()
	before, _ := os.ReadFile(logp)
	u, _ := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", gp))
	label := "\x1b[31mEVIL\x07"
	for i := 0; i < 1000; i++ {
		pkt := append([]byte{244, byte(len(label))}, label...) // hasLabelMsg
		pkt = append(pkt, 1, 2, 3, 4)
		u.Write(pkt)
		if i%100 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	after, _ := os.ReadFile(logp)
	added := string(after[len(before):])
	fmt.Printf("hostile %s: %d log lines for 1000 packets; escape bytes in log: %t\n",
		filepath.Base(bin), strings.Count(added, "\n"), strings.Contains(added, "\x1b") || strings.Contains(added, "EVIL"))
}

// maxconns: the default caps at a 20000-descriptor limit, all reachable
// from one source, held in full.
func maxconns(bin string) {
	dir, _ := os.MkdirTemp("", "maxconns-")
	dp, hp := freePort(), freePort()
	cfg := fmt.Sprintf(`node: m1
listen:
  dns: ["127.0.0.1:%d"]
  http: "127.0.0.1:%d"
  max_conns: {dns: 4096, dns_per_source: 4096, http: 256, http_per_source: 256}
regions: [{name: r1, latitude: 1, longitude: 2}]
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.example.net.}]
    names:
      - name: app
        endpoints: [{region: r1, addresses: [192.0.2.1]}]
`, dp, hp)
	path := filepath.Join(dir, "m.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	cmd, _ := start(bin, 0, "-config", path, "-log-format", "json")
	defer cmd.Process.Kill()
	waitTCP(fmt.Sprintf("127.0.0.1:%d", hp))
	time.Sleep(time.Second)
	pid := cmd.Process.Pid
	rss0, _, fd0, _ := procStat(pid)
	q := []byte{0, 29, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'p', 'p', 4, 'g', 's', 'l', 'b', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1}
	var keep []net.Conn
	hold := func(addr string, n int, hello []byte) int {
		held := 0
		var conns []net.Conn
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				continue
			}
			c.Write(hello)
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(make([]byte, 512)); err == nil {
				held++
				conns = append(conns, c)
			} else {
				c.Close()
			}
			c.SetReadDeadline(time.Time{})
		}
		keep = append(keep, conns...)
		return held
	}
	d := hold(fmt.Sprintf("127.0.0.1:%d", dp), 4200, q)
	h := hold(fmt.Sprintf("127.0.0.1:%d", hp), 300, []byte("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
	rss1, _, fd1, _ := procStat(pid)
	for _, c := range keep {
		c.Close()
	}
	fmt.Printf("maxconns %s: held DNS %d, HTTP %d; fds %d -> %d; RSS %d -> %d kB (%.1f kB per connection)\n",
		filepath.Base(bin), d, h, fd0, fd1, rss0, rss1, float64(rss1-rss0)/float64(d+h))
}

// startGossipNode starts a solo node with gossip on, settled for a second,
// and returns it with its log path and gossip port.
func startGossipNode(bin, tmpPrefix string) (*exec.Cmd, string, int) {
	dir, _ := os.MkdirTemp("", tmpPrefix)
	gp, dp, hp := freePort(), freePort(), freePort()
	cfg := fmt.Sprintf(`node: g1
listen: {dns: ["127.0.0.1:%d"], http: "127.0.0.1:%d"}
regions: [{name: r1, latitude: 1, longitude: 2}]
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.example.net.}]
    names:
      - name: app
        endpoints: [{region: r1, addresses: [192.0.2.1]}]
cluster:
  bind: 127.0.0.1:%d
  expect: 1
  keys: ["c2VjcmV0LWtleS1mb3ItZ3NsYmQtdGVzdHMtMzItYiE="]
`, dp, hp, gp)
	path := filepath.Join(dir, "g.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	cmd, logp := start(bin, 0, "-config", path, "-log-format", "json")
	waitTCP(fmt.Sprintf("127.0.0.1:%d", hp))
	time.Sleep(time.Second)
	return cmd, logp, gp
}

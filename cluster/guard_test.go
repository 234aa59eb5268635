package cluster

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gslbd/gslbd/connlimit"
	"github.com/gslbd/gslbd/gslb"
)

// encryptMsg is memberlist's message type of an encrypted stream.
const encryptMsg = 10

// TestGossipStreamCappedBeforeDecryption: memberlist buffers a whole
// encrypted stream (it may announce 20 MiB) before it authenticates it; a
// few such connections took a node from 23 MB to 546 MB. The stream is
// now cut once it passes what a full state sync of this cluster needs.
func TestGossipStreamCappedBeforeDecryption(t *testing.T) {
	h := newHarness(t)
	n := h.start("a", 1)
	limit := n.guard.maxStream.Load()
	if limit > 4<<20 {
		t.Fatalf("stream cap %d bytes for a small cluster, want at most 4 MiB", limit)
	}
	c, err := net.DialTimeout("tcp", n.LocalAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hdr := []byte{encryptMsg, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[1:], 20<<20)
	junk := bytes.Repeat([]byte{0xa5}, 64<<10)
	sent := 0
	_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(hdr); err != nil {
		t.Fatal(err)
	}
	for sent < 20<<20 {
		k, err := c.Write(junk)
		sent += k
		if err != nil {
			break
		}
	}
	// Socket buffers on both sides absorb some bytes beyond the cap.
	if sent >= 20<<20 {
		t.Fatalf("the node read all %d bytes of an unauthenticated stream; cap is %d", sent, limit)
	}
	waitFor(t, 10*time.Second, "oversize stream counted", func() bool {
		return metricValue(t, n.reg, "gslbd_cluster_refused_total", "kind", "stream", "reason", "oversize") == 1
	})
	t.Logf("stream cut after %d bytes sent (cap %d)", sent, limit)
}

// TestGossipAllowList: packets and streams from outside cluster.allow are
// dropped before memberlist reads them.
func TestGossipAllowList(t *testing.T) {
	h := newHarness(t)
	n := h.start("a", 1, func(o *Options) { o.Config.Allow = []string{"10.0.0.0/8"} })
	c, err := net.DialTimeout("tcp", n.LocalAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a stream from outside the allow-list got data")
	}
	u, err := net.Dial("udp", n.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write([]byte{0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "refusals counted", func() bool {
		return metricValue(t, n.reg, "gslbd_cluster_refused_total", "kind", "stream", "reason", "not_allowed") == 1 &&
			metricValue(t, n.reg, "gslbd_cluster_refused_total", "kind", "packet", "reason", "not_allowed") == 1
	})

	// A reload may open it up.
	cfg := n.cfg
	cfg.Allow = []string{"127.0.0.0/8"}
	_ = n.Reload(cfg, testEndpoints, len(testEndpoints))
	if !n.guard.allowed(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}) {
		t.Fatal("reload did not apply cluster.allow")
	}
}

// TestGossipConnectionCap: idle streams past the cap are closed at once.
func TestGossipConnectionCap(t *testing.T) {
	h := newHarness(t)
	n := h.start("a", 1, func(o *Options) { o.ConnLimits = connlimit.Limits{Total: 4, PerSource: 2} })
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 2 {
		c, err := net.DialTimeout("tcp", n.LocalAddr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitFor(t, 10*time.Second, "2 streams held", func() bool { return n.guard.lim.Open() == 2 })
	c, err := net.DialTimeout("tcp", n.LocalAddr(), 5*time.Second)
	if err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("3rd idle stream from one source got data")
		}
	}
	waitFor(t, 10*time.Second, "refusal counted", func() bool {
		return metricValue(t, n.reg, "gslbd_cluster_tcp_refused_total", "reason", connlimit.ReasonPerSource) == 1
	})
}

// TestQuietLog: hostile gossip made memberlist log an ERROR line per
// packet, quoting bytes the sender chose. Lines are now cleaned and
// rate-limited per kind.
func TestQuietLog(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	now := time.Unix(1700000000, 0)
	q := &quietLog{log: zap.New(core), now: func() time.Time { return now }, kinds: map[string]*logKind{}}
	evil := "[ERR] memberlist: discarding packet with unacceptable label \"\x1b[31mEVIL\x00" + strings.Repeat("A", 300) + "\": from=127.0.0.1:4000\n"
	for range 100 {
		_, _ = q.Write([]byte(evil))
	}
	_, _ = q.Write([]byte("[WARN] memberlist: Got ping for unexpected node 'x' from=127.0.0.1:4000\n"))
	_, _ = q.Write([]byte("[WARN] memberlist: Got ping for unexpected node \x1b]0;pwn\x07 from=127.0.0.1:4000\n"))
	if got := logs.FilterMessageSnippet("unacceptable label").Len(); got != 1 {
		t.Fatalf("%d lines for 100 hostile packets within %s, want 1", got, logEvery)
	}
	for _, e := range logs.All() {
		if strings.ContainsAny(e.Message, "\x1b\x00\x07") || strings.Contains(e.Message, "EVIL") || strings.Contains(e.Message, "pwn") || len(e.Message) > maxLogLine+8 {
			t.Errorf("log line carries sender bytes: %q", e.Message)
		}
	}
	now = now.Add(logEvery + time.Second)
	_, _ = q.Write([]byte(evil))
	all := logs.FilterMessageSnippet("unacceptable label").All()
	if len(all) != 2 || all[1].ContextMap()["suppressed_since_last"] != int64(99) {
		t.Fatalf("after %s: %d lines, last %v; want 2 with 99 suppressed", logEvery, len(all), all[len(all)-1].ContextMap())
	}
}

// TestStreamCapFitsAWorstCaseState: the stream cap must never cut a
// legitimate full state sync: a state with every field at its codec limit
// encodes below it.
func TestStreamCapFitsAWorstCaseState(t *testing.T) {
	for _, size := range []struct{ nodes, targets int }{{1, 1}, {3, 6}, {5, 200}, {40, 50}} {
		long := func(c byte, n int) string { return strings.Repeat(string(c), n) }
		var obs []gslb.Observation
		var drains []gslb.Drain
		var writes []gslb.WriteActive
		at := time.Unix(1700000000, 0)
		nodes := make([]string, size.nodes)
		for i := range nodes {
			nodes[i] = fmt.Sprintf("%03d", i) + long('n', maxNodeLen-3)
		}
		for e := range size.targets {
			ep := fmt.Sprintf("%05d", e) + long('e', maxEndpointLen-5)
			for _, n := range nodes {
				obs = append(obs, gslb.Observation{Target: ep, Node: n, State: gslb.Ready, Seq: 1 << 62,
					ObservedAt: at, Since: at, Reason: long('r', maxReasonLen), Lag: time.Hour, LagKnown: true})
			}
			drains = append(drains, gslb.Drain{Endpoint: ep, Drained: true, At: at, By: long('b', maxByLen)})
			writes = append(writes, gslb.WriteActive{Name: fmt.Sprintf("%05d", e) + long('w', maxGSLBNameLen-5), Term: 1 << 62,
				Region: long('g', maxRegionLen), From: long('f', maxRegionLen), By: nodes[0],
				Backers: nodes[:min(len(nodes), maxBackers)], Reason: long('r', maxReasonLen), At: at})
		}
		b, err := encodeState(obs, drains, writes)
		if err != nil {
			t.Fatal(err)
		}
		// memberlist's own push/pull adds a header and its member list.
		need := int64(len(b)) + int64(size.nodes)*1024
		if cap := maxStreamBytes(size.nodes, size.targets, size.targets); need > cap {
			t.Errorf("%d nodes, %d targets: worst-case state %d bytes over the stream cap %d", size.nodes, size.targets, need, cap)
		}
	}
}

package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

const dbName = "db.gslb.example.com."

func sampleWrite() gslb.WriteActive {
	return gslb.WriteActive{Name: dbName, Term: 3, Region: "eu-west", From: "us-east", By: "node-b",
		Backers: []string{"node-a", "node-b"}, Reason: "failover from us-east: down", Lag: 300 * time.Millisecond,
		LagKnown: true, Detection: 1500 * time.Millisecond, At: t0}
}

func TestWriteCodec(t *testing.T) {
	a := sampleWrite()
	b, err := encodeWrite(a)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(b)
	if err != nil || m.Type != msgWrite || !reflect.DeepEqual(m.Write, a) {
		t.Fatalf("write round trip: %v %+v", err, m.Write)
	}
	obs := []gslb.Observation{sampleObs()}
	drains := []gslb.Drain{{Endpoint: "e", Drained: true, At: t0, By: "n"}}
	b, err = encodeState(obs, drains, []gslb.WriteActive{a})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = decode(b); err != nil || !reflect.DeepEqual(m.Writes, []gslb.WriteActive{a}) {
		t.Fatalf("state with writes: %v %+v", err, m)
	}
	for name, bad := range map[string]gslb.WriteActive{
		"no term":       {Name: "n", Region: "r", By: "b", Backers: []string{"b"}},
		"no backers":    {Name: "n", Region: "r", By: "b", Term: 1},
		"no proposer":   {Name: "n", Region: "r", Term: 1, Backers: []string{"b"}},
		"empty name":    {Region: "r", By: "b", Term: 1, Backers: []string{"b"}},
		"long region":   {Name: "n", Region: strings.Repeat("r", maxRegionLen+1), By: "b", Term: 1, Backers: []string{"b"}},
		"many backers":  {Name: "n", Region: "r", By: "b", Term: 1, Backers: make([]string, maxBackers+1)},
		"empty backer":  {Name: "n", Region: "r", By: "b", Term: 1, Backers: []string{""}},
		"long from":     {Name: "n", Region: "r", From: strings.Repeat("f", maxRegionLen+1), By: "b", Term: 1, Backers: []string{"b"}},
		"long proposer": {Name: "n", Region: "r", By: strings.Repeat("b", maxByLen+1), Term: 1, Backers: []string{"b"}},
	} {
		if _, err := encodeWrite(bad); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	good, _ := encodeWrite(a)
	cases := map[string][]byte{"trailing byte": append(good, 0)}
	for i := 2; i < len(good); i++ {
		cases["truncated "+string(rune('a'+i%26))+string(rune('a'+i/26))] = good[:i]
	}
	for name, c := range cases {
		if _, err := decode(c); err == nil || dropReason(err) != dropMalformed {
			t.Errorf("%s: %v, want malformed", name, err)
		}
	}
	// Version 1 messages are refused as such.
	old := append([]byte{1}, good[1:]...)
	if _, err := decode(old); dropReason(err) != dropVersion {
		t.Errorf("version 1: %v", err)
	}
}

// TestReceiveWrite: records are ordered by term, never by time, and a
// record whose backers are no majority is refused.
func TestReceiveWrite(t *testing.T) {
	now := t0
	n, reg := newIdleNode(t, "self", func() time.Time { return now })
	dropped := func(reason string) float64 {
		return metricValue(t, reg, "gslbd_cluster_messages_dropped_total", "reason", reason)
	}
	send := func(a gslb.WriteActive) {
		t.Helper()
		b, err := encodeWrite(a)
		if err != nil {
			t.Fatal(err)
		}
		n.receive(b)
	}
	a := sampleWrite() // expect defaults to 1 here: 2 backers are a majority
	send(a)
	if got := n.Writes(); !reflect.DeepEqual(got, []gslb.WriteActive{a}) {
		t.Fatalf("writes %+v", got)
	}
	if n.queue.NumQueued() != 1 {
		t.Fatal("new record not queued for relay")
	}
	// A lower term, however new its clock, and the same term from a
	// smaller proposer: dropped as old.
	lower := a
	lower.Term, lower.Region, lower.At = 2, "us-east", t0.Add(time.Hour)
	tie := a
	tie.Region, tie.By, tie.Backers = "us-east", "node-a", []string{"node-a"}
	for _, o := range []gslb.WriteActive{a, lower, tie} {
		send(o)
	}
	if got := n.Writes(); !reflect.DeepEqual(got, []gslb.WriteActive{a}) {
		t.Fatalf("an older record replaced the newer: %+v", got)
	}
	if dropped(dropOld) != 3 {
		t.Fatalf("old dropped %v, want 3", dropped(dropOld))
	}
	// A higher term, even with an old clock, wins.
	higher := a
	higher.Term, higher.Region, higher.At = 4, "ap-southeast", t0.Add(-time.Hour)
	send(higher)
	if n.Writes()[0].Region != "ap-southeast" {
		t.Fatalf("higher term not applied: %+v", n.Writes())
	}
	// A record without a majority of backers (expect 3 from config).
	n.mu.Lock()
	n.cfg.Expect = 3
	n.mu.Unlock()
	minority := higher
	minority.Term, minority.By, minority.Backers = 9, "rogue", []string{"rogue"}
	send(minority)
	if dropped(dropNoQuorum) != 1 || n.Writes()[0].Term != 4 {
		t.Fatalf("minority record applied: %+v", n.Writes())
	}
	// The View carries the record in force.
	n.recompute()
	if v := n.View(); v.Active[dbName].Term != 4 {
		t.Fatalf("view writes %+v", v.Active)
	}
	// Push/pull: a lower term in a full sync does not overwrite; ours
	// reaches a peer.
	n2, _ := newIdleNode(t, "peer", func() time.Time { return now })
	st, err := encodeState(nil, nil, []gslb.WriteActive{a})
	if err != nil {
		t.Fatal(err)
	}
	n.mergeState(st)
	if n.Writes()[0].Term != 4 {
		t.Fatalf("after push/pull: %+v", n.Writes())
	}
	n2.mergeState(n.localState())
	if got := n2.Writes(); !reflect.DeepEqual(got, n.Writes()) {
		t.Fatalf("peer after our LocalState: %+v", got)
	}
}

func TestPropose(t *testing.T) {
	now := t0
	n, _ := newIdleNode(t, "self", func() time.Time { return now })
	// Solo-sized: this node is its own quorum.
	got, err := n.Propose(gslb.WriteActive{Name: dbName, Term: 1, Region: "eu-west", By: "someone", Backers: []string{"x"}})
	if err != nil || got.By != "self" || !reflect.DeepEqual(got.Backers, []string{"self"}) {
		t.Fatalf("propose: %+v %v", got, err)
	}
	ms := n.queue.GetBroadcasts(0, 1<<20)
	if len(ms) != 1 {
		t.Fatalf("queued %d broadcasts", len(ms))
	}
	if m, err := decode(ms[0]); err != nil || m.Type != msgWrite || m.Write.Term != 1 {
		t.Fatalf("gossiped %+v %v", m, err)
	}
	// The same term again (a rebuild before the View came back): stale.
	if _, err := n.Propose(gslb.WriteActive{Name: dbName, Term: 1, Region: "ap-southeast"}); !errors.Is(err, gslb.ErrStaleTerm) {
		t.Fatalf("same term: %v, want ErrStaleTerm", err)
	}
	// Without a quorum nothing is stored.
	n.mu.Lock()
	n.cfg.Expect = 3
	n.mu.Unlock()
	if _, err := n.Propose(gslb.WriteActive{Name: dbName, Term: 2, Region: "ap-southeast"}); !errors.Is(err, gslb.ErrNoQuorum) {
		t.Fatalf("alone of 3: %v, want ErrNoQuorum", err)
	}
	if n.Writes()[0].Term != 1 {
		t.Fatalf("a record without quorum was stored: %+v", n.Writes())
	}
	// Restore applies the gossip rule: a record backed by 1 of 3 is refused.
	if err := n.Restore(gslb.WriteActive{Name: "x.", Term: 5, Region: "r", By: "a", Backers: []string{"a"}}); err == nil {
		t.Fatal("restore of a minority record accepted")
	}
	if err := n.Restore(gslb.WriteActive{Name: "x.", Term: 5, Region: "r", By: "a", Backers: []string{"a", "b"}}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for _, bad := range []gslb.WriteActive{{Region: "r", Term: 3}, {Name: "n", Term: 3},
		{Name: strings.Repeat("n", maxGSLBNameLen+1), Region: "r", Term: 3}} {
		if _, err := n.Propose(bad); err == nil {
			t.Fatalf("bad record proposed: %+v", bad)
		}
	}
}

// TestWriteGossip: a record proposed on one node reaches every View; a
// late joiner gets it by push/pull; a node cut off from the majority
// cannot propose, and on heal the majority's record stands.
func TestWriteGossip(t *testing.T) {
	h := newHarness(t)
	all := names("n", 3)
	h.start("n1", 3)
	h.start("n2", 3)
	tr := newCutTransport(t)
	cut := h.start("n3", 3, withTransport(tr))
	h.waitMembers(all, 3)
	viewHas := func(nodes []string, term uint64, region string) func() bool {
		return func() bool {
			for _, name := range nodes {
				if got := h.nodes[name].View().Active[dbName]; got.Term != term || got.Region != region {
					return false
				}
			}
			return true
		}
	}
	// Under load a node may briefly suspect a peer and see no quorum; it
	// then refuses, and a later try goes through.
	propose := func(n *tnode, term uint64, region string) {
		t.Helper()
		var err error
		waitFor(t, 30*time.Second, "a quorum to propose on", func() bool {
			_, err = n.Propose(gslb.WriteActive{Name: dbName, Term: term, Region: region})
			if err != nil && !errors.Is(err, gslb.ErrNoQuorum) {
				t.Fatalf("propose: %v", err)
			}
			return err == nil
		})
	}
	propose(h.nodes["n2"], 1, "eu-west")
	waitFor(t, 30*time.Second, "n2's record in every View", viewHas(all, 1, "eu-west"))
	if b := h.nodes["n1"].View().Active[dbName].Backers; len(b) != 3 {
		t.Fatalf("backers %v, want all three", b)
	}

	// Cut n3 off: once it sees itself alone it cannot propose.
	tr.cut.Store(true)
	waitFor(t, 30*time.Second, "n3 without quorum", func() bool { return !cut.View().Quorum })
	if _, err := cut.Propose(gslb.WriteActive{Name: dbName, Term: 2, Region: "ap-southeast"}); !errors.Is(err, gslb.ErrNoQuorum) {
		t.Fatalf("isolated node proposed: %v", err)
	}
	// The majority still can.
	h.waitMembers([]string{"n1", "n2"}, 2)
	propose(h.nodes["n1"], 2, "us-east")
	waitFor(t, 30*time.Second, "majority agrees on term 2", viewHas([]string{"n1", "n2"}, 2, "us-east"))
	// Heal: n3 learns the majority's record.
	tr.cut.Store(false)
	h.waitMembers(all, 3)
	waitFor(t, 30*time.Second, "one record everywhere after heal", viewHas(all, 2, "us-east"))

	late := h.start("late", 3)
	waitFor(t, 30*time.Second, "late joiner has the record", viewHas([]string{"late"}, 2, "us-east"))
	if metricValue(t, late.reg, "gslbd_cluster_messages_total", "direction", "received", "type", "state") < 1 {
		t.Fatal("late joiner received no push/pull state")
	}
}

package cluster

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

func sampleActive() gslb.WriteActive {
	return gslb.WriteActive{Name: "db.gslb.example.com.", Region: "eu-west", At: t0, By: "node-b"}
}

func TestActiveCodec(t *testing.T) {
	a := sampleActive()
	b, err := encodeActive(a)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(b)
	if err != nil || m.Type != msgActive || !reflect.DeepEqual(m.Active, a) {
		t.Fatalf("active round trip: %v %+v", err, m.Active)
	}
	noBy := gslb.WriteActive{Name: "n", Region: "r", At: t0}
	obs := []gslb.Observation{sampleObs()}
	drains := []gslb.Drain{{Endpoint: "e", Drained: true, At: t0, By: "n"}}
	actives := []gslb.WriteActive{a, noBy}
	b, err = encodeState(obs, drains, actives)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = decode(b); err != nil || !reflect.DeepEqual(m.State, obs) || !reflect.DeepEqual(m.Drains, drains) ||
		!reflect.DeepEqual(m.Actives, actives) {
		t.Fatalf("state with actives: %v %+v", err, m)
	}
	// Without records the section is left out, so the state is what
	// nodes from before write-active records send and accept: it ends
	// right after the drains.
	old, _ := encodeState(obs, drains, nil)
	if !bytes.HasPrefix(b, old) || len(b) == len(old) {
		t.Fatal("the write-active section is not an optional tail")
	}
	if m, err = decode(old); err != nil || m.Actives != nil {
		t.Fatalf("state without the section: %v %+v", err, m.Actives)
	}
	// An explicitly empty section decodes too.
	if m, err = decode(append(bytes.Clone(old), 0)); err != nil || m.Actives != nil {
		t.Fatalf("state with an empty section: %v %+v", err, m.Actives)
	}

	for name, bad := range map[string]gslb.WriteActive{
		"empty name":   {Region: "r", At: t0},
		"empty region": {Name: "n", At: t0},
		"no time":      {Name: "n", Region: "r"},
		"long name":    {Name: strings.Repeat("n", maxGSLBNameLen+1), Region: "r", At: t0},
		"long region":  {Name: "n", Region: strings.Repeat("r", maxRegionLen+1), At: t0},
		"long by":      {Name: "n", Region: "r", At: t0, By: strings.Repeat("b", maxByLen+1)},
	} {
		if _, err := encodeActive(bad); err == nil {
			t.Errorf("%s: encoded", name)
		}
		if _, err := encodeState(nil, nil, []gslb.WriteActive{bad}); err == nil {
			t.Errorf("%s: encoded in a state", name)
		}
	}

	rec := func(name, region string, at int64, by string) []byte {
		b := []byte{protoVersion, msgActive}
		b = appendString(b, name)
		b = appendString(b, region)
		b = append(b, byte(at))
		return appendString(b, by)
	}
	cases := map[string][]byte{
		"no time":             rec("n", "r", 0, "b"),
		"empty name":          rec("", "r", 2, "b"),
		"empty region":        rec("n", "", 2, "b"),
		"trailing byte":       append(rec("n", "r", 2, "b"), 0),
		"long region":         append(append([]byte{protoVersion, msgActive}, 1, 'n'), 0xff, 0x03),
		"huge actives count":  append(bytes.Clone(old), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"garbage after state": append(bytes.Clone(old), 1, 0xff),
	}
	good, _ := encodeActive(a)
	for i := 2; i < len(good); i++ {
		cases["truncated active "+string(rune('a'+i))] = good[:i]
	}
	for i := len(old) + 1; i < len(b); i++ {
		cases["truncated state section "+string(rune('a'+i-len(old)))] = b[:i]
	}
	for name, c := range cases {
		if _, err := decode(c); err == nil || dropReason(err) != dropMalformed {
			t.Errorf("%s: %v, want malformed", name, err)
		}
	}
}

func TestReceiveActive(t *testing.T) {
	now := t0
	n, reg := newIdleNode(t, "self", func() time.Time { return now })
	dropped := func(reason string) float64 {
		return metricValue(t, reg, "gslbd_cluster_messages_dropped_total", "reason", reason)
	}
	send := func(a gslb.WriteActive) {
		t.Helper()
		b, err := encodeActive(a)
		if err != nil {
			t.Fatal(err)
		}
		n.receive(b)
	}
	a := sampleActive()
	send(a)
	if got := n.Actives(); !reflect.DeepEqual(got, []gslb.WriteActive{a}) {
		t.Fatalf("actives %+v", got)
	}
	if n.queue.NumQueued() != 1 {
		t.Fatal("new record not queued for relay")
	}
	// Replays, older records, and on a tie the smaller By: ignored.
	older := a
	older.Region, older.At = "us-east", t0.Add(-time.Second)
	tie := a
	tie.Region, tie.By = "us-east", "node-a"
	for _, o := range []gslb.WriteActive{a, older, tie} {
		send(o)
	}
	if got := n.Actives(); !reflect.DeepEqual(got, []gslb.WriteActive{a}) {
		t.Fatalf("an older record replaced the newer: %+v", got)
	}
	if dropped(dropOld) != 3 {
		t.Fatalf("old dropped %v, want 3", dropped(dropOld))
	}
	// From a clock more than a minute ahead: dropped.
	fut := a
	fut.Region, fut.At = "us-east", now.Add(2*time.Minute)
	send(fut)
	if dropped(dropFuture) != 1 || n.Actives()[0].Region != "eu-west" {
		t.Fatal("future record applied")
	}
	// Newer, and on a tie the greater By: applied. Another name is kept
	// apart; Actives is sorted by name.
	tieWin := a
	tieWin.Region, tieWin.By = "ap-southeast", "node-c"
	send(tieWin)
	other := gslb.WriteActive{Name: "auth.gslb.example.com.", Region: "us-east", At: t0, By: "node-c"}
	send(other)
	if got := n.Actives(); !reflect.DeepEqual(got, []gslb.WriteActive{other, tieWin}) {
		t.Fatalf("actives %+v", got)
	}
	if metricValue(t, reg, "gslbd_cluster_messages_total", "direction", "received", "type", "active") != 7 {
		t.Fatal("received actives not counted")
	}

	// The View carries them (solo-style recompute, no Run needed).
	n.recompute()
	if v := n.View(); len(v.Active) != 2 || v.Active[a.Name] != tieWin || v.Active[other.Name] != other {
		t.Fatalf("view actives %+v", v.Active)
	}

	// Push/pull: an older copy in a full sync does not overwrite; a new
	// name is merged; our LocalState carries every record.
	n2, _ := newIdleNode(t, "peer", func() time.Time { return now })
	third := gslb.WriteActive{Name: "x.gslb.example.com.", Region: "eu-west", At: t0, By: "peer"}
	st, err := encodeState(nil, nil, []gslb.WriteActive{older, third})
	if err != nil {
		t.Fatal(err)
	}
	n.mergeState(st)
	if got := n.Actives(); !reflect.DeepEqual(got, []gslb.WriteActive{other, tieWin, third}) {
		t.Fatalf("after push/pull: %+v", got)
	}
	n2.mergeState(n.localState())
	if got := n2.Actives(); !reflect.DeepEqual(got, n.Actives()) {
		t.Fatalf("peer after our LocalState: %+v", got)
	}
}

func TestSetActive(t *testing.T) {
	now := t0
	n, _ := newIdleNode(t, "self", func() time.Time { return now })
	drain := func() []message {
		var out []message
		for _, b := range n.queue.GetBroadcasts(0, 1<<20) {
			m, err := decode(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		n.queue.Reset()
		return out
	}
	// Defaults: now, this node.
	n.SetActive(gslb.WriteActive{Name: "db.", Region: "eu-west"})
	want := gslb.WriteActive{Name: "db.", Region: "eu-west", At: t0, By: "self"}
	if got := n.Actives(); !reflect.DeepEqual(got, []gslb.WriteActive{want}) {
		t.Fatalf("actives %+v", got)
	}
	if ms := drain(); len(ms) != 1 || ms[0].Type != msgActive || ms[0].Active != want {
		t.Fatalf("gossiped %+v", ms)
	}
	// A peer's newer record is held; our later decision, stamped by a
	// clock that is behind, still wins: its At moves just past.
	peer := gslb.WriteActive{Name: "db.", Region: "ap-southeast", At: t0.Add(time.Minute), By: "peer"}
	b, _ := encodeActive(peer)
	n.receive(b)
	n.queue.Reset()
	n.SetActive(gslb.WriteActive{Name: "db.", Region: "us-east", At: t0.Add(time.Second)})
	got := n.Actives()[0]
	if got.Region != "us-east" || !got.At.Equal(peer.At.Add(time.Nanosecond)) || got.By != "self" {
		t.Fatalf("decision lost to skew: %+v", got)
	}
	// Queued broadcasts are named by the GSLB name: a newer decision
	// replaces one not yet sent.
	n.SetActive(gslb.WriteActive{Name: "db.", Region: "eu-west", At: t0.Add(2 * time.Minute)})
	if ms := drain(); len(ms) != 1 || ms[0].Active.Region != "eu-west" {
		t.Fatalf("queue holds %+v, want only the newest", ms)
	}
	// Bad records change nothing and never panic.
	for _, bad := range []gslb.WriteActive{
		{Region: "r"}, {Name: "n"},
		{Name: strings.Repeat("n", maxGSLBNameLen+1), Region: "r"},
		{Name: "n", Region: strings.Repeat("r", maxRegionLen+1)},
	} {
		n.SetActive(bad)
	}
	if len(n.Actives()) != 1 || n.queue.NumQueued() != 0 {
		t.Fatalf("bad records applied: %+v", n.Actives())
	}
	// A long author is cut, not refused.
	n.SetActive(gslb.WriteActive{Name: "db2.", Region: "r", By: strings.Repeat("é", 200)})
	for _, a := range n.Actives() {
		if a.Name == "db2." && (len(a.By) > maxByLen || !strings.HasPrefix(strings.Repeat("é", 200), a.By)) {
			t.Fatalf("author not cut cleanly: %d bytes", len(a.By))
		}
	}
}

// TestActiveGossip: a write-active record set on one node reaches every
// node's View; a newer one replaces it everywhere and an older one sent
// later does not; a node that joins after the gossip has died down gets
// the record by push/pull.
func TestActiveGossip(t *testing.T) {
	h := newHarness(t)
	all := names("n", 3)
	for _, name := range all {
		h.start(name, 3)
	}
	h.waitMembers(all, 3)
	const db = "db.gslb.example.com."
	same := func(a, b gslb.WriteActive) bool {
		return a.Name == b.Name && a.Region == b.Region && a.At.Equal(b.At) && a.By == b.By
	}
	viewHas := func(nodes []string, want gslb.WriteActive) func() bool {
		return func() bool {
			for _, name := range nodes {
				if got, ok := h.nodes[name].View().Active[db]; !ok || !same(got, want) {
					return false
				}
			}
			return true
		}
	}

	first := gslb.WriteActive{Name: db, Region: "eu-west", At: time.Now(), By: "n2"}
	h.nodes["n2"].SetActive(first)
	waitFor(t, 30*time.Second, "n2's record in every View", viewHas(all, first))

	newer := gslb.WriteActive{Name: db, Region: "us-east", At: first.At.Add(time.Second), By: "n3"}
	h.nodes["n3"].SetActive(newer)
	waitFor(t, 30*time.Second, "n3's newer record in every View", viewHas(all, newer))

	// quiet waits until no broadcast is queued anywhere, so no relayed
	// copy is still on its way.
	quiet := func() {
		t.Helper()
		waitFor(t, 30*time.Second, "broadcast queues empty", func() bool {
			for _, name := range all {
				if h.nodes[name].queue.NumQueued() != 0 {
					return false
				}
			}
			return true
		})
	}
	// n1 gossips an older record (as a node that missed the news would):
	// every node drops it as old.
	quiet()
	stale := gslb.WriteActive{Name: db, Region: "ap-southeast", At: first.At, By: "n1"}
	oldDrops := func() float64 {
		sum := 0.0
		for _, name := range all[1:] {
			sum += metricValue(t, h.nodes[name].reg, "gslbd_cluster_messages_dropped_total", "reason", dropOld)
		}
		return sum
	}
	before := oldDrops()
	h.nodes["n1"].queueActive(stale)
	waitFor(t, 30*time.Second, "the older record to arrive and be dropped", func() bool { return oldDrops() > before })
	if !viewHas(all, newer)() {
		t.Fatal("an older record overwrote the newer one")
	}
	for _, name := range all {
		if got := h.nodes[name].Actives(); len(got) != 1 || !same(got[0], newer) {
			t.Fatalf("%s holds %+v", name, got)
		}
	}

	// Let the broadcasts run out, so the late joiner can only learn the
	// record from a full state sync.
	quiet()
	late := h.start("late", 3)
	waitFor(t, 30*time.Second, "late joiner has the record", viewHas([]string{"late"}, newer))
	if metricValue(t, late.reg, "gslbd_cluster_messages_total", "direction", "received", "type", "state") < 1 {
		t.Fatal("late joiner received no push/pull state")
	}
}

package cluster

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleObs() gslb.Observation {
	return gslb.Observation{
		Target:     "http:db1.example:8080#0123456789ab",
		Node:       "node-a",
		State:      gslb.Ready,
		Lag:        1500 * time.Millisecond,
		LagKnown:   true,
		Reason:     "lag 1.5s under 10s for 30s",
		ObservedAt: t0,
		Since:      t0.Add(-time.Hour),
		Seq:        42,
		Failed:     true,
		Transition: true,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	o := sampleObs()
	b, err := encodeObservation(o)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != msgObservation || !reflect.DeepEqual(m.Obs, o) {
		t.Fatalf("observation round trip:\n got %+v\nwant %+v", m.Obs, o)
	}

	zero := gslb.Observation{Target: "x", Node: "n", State: gslb.Down} // zero times, no lag
	b, _ = encodeObservation(zero)
	if m, err = decode(b); err != nil || !reflect.DeepEqual(m.Obs, zero) {
		t.Fatalf("zero-time observation: %v %+v", err, m.Obs)
	}

	d := gslb.Drain{Endpoint: "eu@www.gslb.example.com", Drained: true, At: t0, By: "node-b"}
	b, err = encodeDrain(d)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = decode(b); err != nil || m.Type != msgDrain || !reflect.DeepEqual(m.Drain, d) {
		t.Fatalf("drain round trip: %v %+v", err, m.Drain)
	}

	obs := []gslb.Observation{o, zero}
	drains := []gslb.Drain{d}
	b, err = encodeState(obs, drains, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = decode(b); err != nil || !reflect.DeepEqual(m.State, obs) || !reflect.DeepEqual(m.Drains, drains) {
		t.Fatalf("state round trip: %v\n%+v\n%+v", err, m.State, m.Drains)
	}
	b, _ = encodeState(nil, nil, nil)
	if m, err = decode(b); err != nil || len(m.State) != 0 || len(m.Drains) != 0 {
		t.Fatalf("empty state: %v %+v", err, m)
	}
}

func TestCodecLimits(t *testing.T) {
	o := sampleObs()
	o.Reason = strings.Repeat("é", 400) // 800 bytes, must be cut on a rune boundary
	b, err := encodeObservation(o)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Obs.Reason) > maxReasonLen || !strings.HasPrefix(o.Reason, m.Obs.Reason) {
		t.Fatalf("reason not truncated cleanly: %d bytes", len(m.Obs.Reason))
	}
	for name, bad := range map[string]gslb.Observation{
		"empty target":  {Node: "n", State: gslb.Ready},
		"empty node":    {Target: "e", State: gslb.Ready},
		"long target":   {Node: "n", Target: strings.Repeat("e", maxTargetLen+1)},
		"drained state": {Node: "n", Target: "e", State: gslb.Drained},
	} {
		if _, err := encodeObservation(bad); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := encodeObservation(sampleObs())
	goodDrain, _ := encodeDrain(gslb.Drain{Endpoint: "e", At: t0, By: "n"})
	cases := []struct {
		name   string
		b      []byte
		reason string
	}{
		{"empty", nil, dropMalformed},
		{"one byte", []byte{1}, dropMalformed},
		{"newer version", append([]byte{protoVersion + 1}, good[1:]...), dropVersion},
		{"version 2 (observations per endpoint)", append([]byte{2}, good[1:]...), dropVersion},
		{"version zero", append([]byte{0}, good[1:]...), dropVersion},
		{"unknown type", []byte{protoVersion, 9, 0}, dropType},
		{"trailing byte", append(bytes.Clone(good), 0), dropMalformed},
		{"huge string length", []byte{protoVersion, msgObservation, 0xff, 0xff, 0xff, 0xff, 0x0f}, dropMalformed},
		{"huge state count", []byte{protoVersion, msgState, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, dropMalformed},
		{"bad state value", func() []byte {
			b := bytes.Clone(good)
			// version, type, len+"node-a", len+target, then the state byte.
			b[2+1+len("node-a")+1+len(sampleObs().Target)] = 7
			return b
		}(), dropMalformed},
		{"drain without time", func() []byte {
			b := []byte{protoVersion, msgDrain}
			b = appendString(b, "e")
			b = append(b, 1, 0) // flags, At = 0
			return appendString(b, "n")
		}(), dropMalformed},
		{"invalid utf-8", func() []byte {
			b := []byte{protoVersion, msgDrain}
			b = appendString(b, "\xff\xfe")
			return append(b, goodDrain[3:]...)
		}(), dropMalformed},
	}
	for i := 2; i < len(good); i++ {
		cases = append(cases, struct {
			name   string
			b      []byte
			reason string
		}{"truncated observation", good[:i], dropMalformed})
	}
	for _, c := range cases {
		_, err := decode(c.b)
		if err == nil {
			t.Errorf("%s: decoded", c.name)
			continue
		}
		if got := dropReason(err); got != c.reason {
			t.Errorf("%s: reason %q, want %q (%v)", c.name, got, c.reason, err)
		}
	}
}

// newIdleNode is a clustered node that is never Run: enough to feed it
// messages directly.
func newIdleNode(t *testing.T, name string, now func() time.Time) (*Node, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	n, err := New(Options{
		Node:       name,
		Config:     config.Cluster{Bind: "127.0.0.1:0"},
		Targets:    []string{"eu@www", "us@www"},
		Registerer: reg,
		Now:        now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, reg
}

func TestReceiveDropsAndCounts(t *testing.T) {
	now := t0
	n, reg := newIdleNode(t, "self", func() time.Time { return now })
	dropped := func(reason string) float64 {
		return metricValue(t, reg, "gslbd_cluster_messages_dropped_total", "reason", reason)
	}
	held := func(node, ep string) (gslb.Observation, bool) {
		n.mu.Lock()
		defer n.mu.Unlock()
		o, ok := n.obs[node][ep]
		return o, ok
	}
	enc := func(o gslb.Observation) []byte {
		b, err := encodeObservation(o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	o := gslb.Observation{Target: "eu@www", Node: "peer", State: gslb.Ready, ObservedAt: now, Seq: 10}
	n.receive(enc(o))
	if got, ok := held("peer", "eu@www"); !ok || got.Seq != 10 {
		t.Fatalf("first observation not stored: %+v", got)
	}

	// Replay of the same message, then an older one: both ignored.
	n.receive(enc(o))
	older := o
	older.Seq, older.State = 9, gslb.Down
	n.receive(enc(older))
	if got, _ := held("peer", "eu@www"); got.Seq != 10 || got.State != gslb.Ready {
		t.Fatalf("replay changed state: %+v", got)
	}
	if d := dropped(dropOld); d != 2 {
		t.Fatalf("old dropped = %v, want 2", d)
	}

	// A clock that jumped: more than a minute ahead of ours.
	future := o
	future.Seq, future.State, future.ObservedAt = 11, gslb.Down, now.Add(2*time.Minute)
	n.receive(enc(future))
	if got, _ := held("peer", "eu@www"); got.State != gslb.Ready {
		t.Fatalf("future observation applied: %+v", got)
	}
	if dropped(dropFuture) != 1 {
		t.Fatal("future not counted")
	}

	// A newer one is applied, and queued for relay since the state changed.
	newer := o
	newer.Seq, newer.State = 12, gslb.Down
	n.receive(enc(newer))
	if got, _ := held("peer", "eu@www"); got.State != gslb.Down {
		t.Fatalf("newer observation not applied: %+v", got)
	}
	if n.queue.NumQueued() == 0 {
		t.Fatal("state change not queued for relay")
	}

	// Endpoints we do not serve, garbage, unknown versions.
	unknown := o
	unknown.Target, unknown.Seq = "nope@www", 13
	n.receive(enc(unknown))
	n.receive([]byte("garbage!")) // 'g' is read as a protocol version
	n.receive(append([]byte{protoVersion, msgObservation}, "garbage!"...))
	n.receive(append([]byte{protoVersion + 1}, enc(o)[1:]...))
	n.receive([]byte{protoVersion, 200, 1, 2, 3})
	stateMsg, _ := encodeState(nil, nil, nil)
	n.receive(stateMsg) // push/pull payload in a gossip message
	for reason, want := range map[string]float64{dropUnknown: 1, dropMalformed: 1, dropVersion: 2, dropType: 2} {
		if got := dropped(reason); got != want {
			t.Errorf("dropped{%s} = %v, want %v", reason, got, want)
		}
	}

	// Someone else's copy of our own observation is never stored, but its
	// higher Seq lifts ours so our next one supersedes it.
	mine := gslb.Observation{Target: "eu@www", Node: "self", State: gslb.Down, ObservedAt: now, Seq: 1 << 62}
	n.receive(enc(mine))
	if _, ok := held("self", "eu@www"); ok {
		t.Fatal("peer's copy of our own observation stored")
	}
	n.Observe(gslb.Observation{Target: "eu@www", State: gslb.Ready, ObservedAt: now})
	if got, _ := held("self", "eu@www"); got.Seq <= 1<<62 || got.Node != "self" {
		t.Fatalf("own seq not lifted above echo: %+v", got)
	}

	// Drains: newest At wins; older and future ones are dropped.
	dr := gslb.Drain{Endpoint: "eu@www", Drained: true, At: now, By: "peer"}
	b, _ := encodeDrain(dr)
	n.receive(b)
	oldDr := dr
	oldDr.Drained, oldDr.At = false, now.Add(-time.Second)
	b, _ = encodeDrain(oldDr)
	n.receive(b)
	futDr := dr
	futDr.Drained, futDr.At = false, now.Add(time.Hour)
	b, _ = encodeDrain(futDr)
	n.receive(b)
	if ds := n.Drains(); len(ds) != 1 || !ds[0].Drained {
		t.Fatalf("drains = %+v", ds)
	}
	if dropped(dropOld) != 3 || dropped(dropFuture) != 2 {
		t.Fatalf("drain drops: old %v future %v", dropped(dropOld), dropped(dropFuture))
	}
	if st := n.Status(); st.MessagesDropped != 11 {
		t.Fatalf("status dropped = %d, want 11", st.MessagesDropped)
	}
}

func TestMergeStateRelayedCopies(t *testing.T) {
	now := t0
	n, reg := newIdleNode(t, "self", func() time.Time { return now })
	fromPeer := gslb.Observation{Target: "eu@www", Node: "peer", State: gslb.Ready, ObservedAt: now, Seq: 20}
	b, _ := encodeObservation(fromPeer)
	n.receive(b)

	// A third node relays an older copy of peer's view in a full sync,
	// plus something new from a node we have not heard from.
	stale := fromPeer
	stale.Seq, stale.State = 15, gslb.Down
	other := gslb.Observation{Target: "us@www", Node: "other", State: gslb.Down, ObservedAt: now, Seq: 3}
	st, err := encodeState([]gslb.Observation{stale, other}, []gslb.Drain{{Endpoint: "us@www", Drained: true, At: now, By: "other"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n.Status().Synced {
		t.Fatal("synced before any push/pull")
	}
	n.mergeState(st)
	n.mu.Lock()
	gotPeer, gotOther := n.obs["peer"]["eu@www"], n.obs["other"]["us@www"]
	n.mu.Unlock()
	if gotPeer.Seq != 20 || gotPeer.State != gslb.Ready {
		t.Fatalf("relayed older copy overwrote newer: %+v", gotPeer)
	}
	if gotOther.Seq != 3 {
		t.Fatalf("new record from push/pull not merged: %+v", gotOther)
	}
	if ds := n.Drains(); len(ds) != 1 || ds[0].Endpoint != "us@www" {
		t.Fatalf("drains = %+v", ds)
	}
	if !n.Status().Synced {
		t.Fatal("not synced after push/pull merge")
	}

	// Garbage push/pull payloads are dropped and counted, never applied.
	n.mergeState([]byte{protoVersion, msgState, 5})
	if metricValue(t, reg, "gslbd_cluster_messages_dropped_total", "reason", dropMalformed) != 1 {
		t.Fatal("malformed state not counted")
	}

	// And our LocalState decodes back into the same table.
	m, err := decode(n.localState())
	if err != nil || m.Type != msgState || len(m.State) != 2 || len(m.Drains) != 1 {
		t.Fatalf("local state: %v %+v", err, m)
	}
}

func FuzzDecode(f *testing.F) {
	o := sampleObs()
	b, _ := encodeObservation(o)
	f.Add(b)
	b, _ = encodeDrain(gslb.Drain{Endpoint: "e", Drained: true, At: t0, By: "n"})
	f.Add(b)
	b, _ = encodeState([]gslb.Observation{o, {Target: "x", Node: "y"}}, []gslb.Drain{{Endpoint: "e", At: t0}}, nil)
	f.Add(b)
	b, _ = encodeWrite(sampleWrite())
	f.Add(b)
	b, _ = encodeState([]gslb.Observation{o}, nil, []gslb.WriteActive{sampleWrite(), {Name: "n", Term: 1, Region: "r", By: "b", Backers: []string{"b"}}})
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{protoVersion, msgState, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{protoVersion, msgState, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, msgObservation})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes to
		// the same message.
		var re []byte
		switch m.Type {
		case msgObservation:
			re, err = encodeObservation(m.Obs)
		case msgDrain:
			re, err = encodeDrain(m.Drain)
		case msgWrite:
			re, err = encodeWrite(m.Write)
		case msgState:
			re, err = encodeState(m.State, m.Drains, m.Writes)
		default:
			t.Fatalf("decoded unknown type %d", m.Type)
		}
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		m2, err := decode(re)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", m, m2)
		}
	})
}

// metricValue reads one counter or gauge sample from reg; labelKV are
// label name/value pairs the sample must have.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labelKV ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labelKV); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labelKV[i] && lp.GetValue() == labelKV[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labelKV)
	return 0
}

// A local observation is gossiped at once only when it is new or its
// state changed; a mere new reason or lag waits for the refresh.
func TestObserveQueuesOnlyStateChanges(t *testing.T) {
	n, _ := newIdleNode(t, "self", func() time.Time { return t0 })
	drain := func() int {
		k := len(n.queue.GetBroadcasts(0, 1<<20))
		n.queue.Reset()
		return k
	}
	n.Observe(gslb.Observation{Target: "eu@www", State: gslb.Recovering, Reason: "lag 3s for 1s of 5s hold", ObservedAt: t0})
	if got := drain(); got != 1 {
		t.Fatalf("first observation: %d queued, want 1", got)
	}
	for i := range 5 {
		n.Observe(gslb.Observation{Target: "eu@www", State: gslb.Recovering, Lag: time.Duration(i), Reason: fmt.Sprintf("lag %dms for %ds of 5s hold", i, i+2), ObservedAt: t0})
	}
	if got := n.queue.NumQueued(); got != 0 {
		t.Fatalf("reason-only changes queued %d broadcasts", got)
	}
	n.Observe(gslb.Observation{Target: "eu@www", State: gslb.Ready, Reason: "held", ObservedAt: t0})
	if got := drain(); got != 1 {
		t.Fatalf("state change: %d queued, want 1", got)
	}
	// The refresh still carries the latest reason to peers.
	n.refreshOwn()
	msgs := n.queue.GetBroadcasts(0, 1<<20)
	if len(msgs) != 1 {
		t.Fatalf("refresh queued %d", len(msgs))
	}
	m, err := decode(msgs[0])
	if err != nil || m.Obs.Reason != "held" || m.Obs.State != gslb.Ready {
		t.Fatalf("refresh sent %+v (%v)", m.Obs, err)
	}
}

package gslb

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	dbName   = "db.gslb.test."
	dbAuto   = "db-auto.gslb.test."
	dbUS     = "us-east@db.gslb.test"
	dbEU     = "eu-west@db.gslb.test"
	dbAP     = "ap-southeast@db.gslb.test"
	dbAutoUS = "us-east@db-auto.gslb.test"
	dbAutoEU = "eu-west@db-auto.gslb.test"
	dbAutoAP = "ap-southeast@db-auto.gslb.test"
)

// wv is a View for the write-rule tests: every endpoint Ready unless
// states says otherwise, with the failure votes, the cluster size and
// the records in force given.
type wv struct {
	states  map[string]State
	failed  map[string]int // Failed votes; default 1 for Down (solo)
	since   map[string]time.Time
	expect  int
	noQuo   time.Duration // > 0: no quorum for this long
	notDone bool          // start-up not complete (no first round)
	recs    []WriteActive
}

func (w wv) view(t *testing.T) View {
	t.Helper()
	v := viewOf(testConfig(), w.states)
	v.Expect = max(w.expect, 1)
	for id, n := range w.failed {
		es, ok := v.Targets[id]
		if !ok {
			t.Fatalf("no endpoint %s", id)
		}
		es.Failed = n
		v.Targets[id] = es
	}
	for id, at := range w.since {
		es := v.Targets[id]
		es.Since = at
		v.Targets[id] = es
	}
	if w.noQuo > 0 {
		v.Quorum, v.NoQuorumSince = false, t0.Add(-w.noQuo)
	}
	if w.notDone {
		// Restarted: synced from a live peer, own first round not done.
		v.FirstRound = false
		v.Members = []Member{{Name: "node-a", Alive: true}, {Name: "node-b", Alive: true}}
	}
	if len(w.recs) > 0 {
		v.Active = map[string]WriteActive{}
		for _, r := range w.recs {
			v.Active[r.Name] = r
		}
	}
	return v
}

func snapAt(t *testing.T, v View, now time.Time) *Snapshot {
	t.Helper()
	s, err := NewSnapshot(Options{Config: testConfig(), View: v, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeAnswer is the address answered for a write name, or the error.
func writeAnswer(s *Snapshot, name string) (string, error) {
	a, err := s.Answer(Question{name, TypeA}, london)
	if err != nil {
		return "", err
	}
	if len(a.Answer) != 1 || a.Scope != 0 {
		return "", errors.New("write names answer one address with scope 0")
	}
	return a.Answer[0].Data.Addr.String(), nil
}

func proposalFor(s *Snapshot, name string) *WriteActive {
	for _, p := range s.Proposals() {
		if p.Name == name {
			return &p
		}
	}
	return nil
}

func rec3(name, region string, term uint64, by string) WriteActive {
	return WriteActive{Name: name, Term: term, Region: region, By: by, Backers: []string{by, "node-x"}, Reason: "test", At: t0}
}

// TestWriteRule is the table of the write-name rule: positive evidence,
// quorum, start-up, terms and failback.
func TestWriteRule(t *testing.T) {
	eu3 := rec3(dbName, "eu-west", 3, "node-b")
	for _, tc := range []struct {
		name string
		in   wv
		// want is the address answered for db (or the error), prop the
		// proposal (term@region, "" for none).
		want    string
		wantErr error
		prop    string
		reason  string // substring of the reason
		recheck time.Time
	}{{
		name: "no record: the first region in order, term 0",
		want: "192.0.2.30", reason: "us-east, term 0 in force",
	}, {
		name: "primary down with evidence: propose term 1 to the first ready region",
		in:   wv{states: map[string]State{dbUS: Down}},
		want: "192.0.2.30", prop: "1@eu-west", reason: "failover from us-east",
	}, {
		name: "primary recovering, never proven since start: no evidence, no move",
		in:   wv{states: map[string]State{dbUS: Recovering}},
		want: "192.0.2.30",
	}, {
		name: "primary unknown (no result yet): no move",
		in:   wv{states: map[string]State{dbUS: Unknown}},
		want: "192.0.2.30",
	}, {
		name: "primary recovering after ready (lag rose), seen by a majority: move",
		in:   wv{states: map[string]State{dbUS: Recovering}, failed: map[string]int{dbUS: 2}, expect: 3},
		want: "192.0.2.30", prop: "1@eu-west",
	}, {
		name: "down, but only 1 of 3 members saw it fail (one bad path): no move",
		in:   wv{states: map[string]State{dbUS: Down}, failed: map[string]int{dbUS: 1}, expect: 3},
		want: "192.0.2.30", reason: "term 0 in force",
	}, {
		name: "down, 2 of 3 saw it fail: move",
		in:   wv{states: map[string]State{dbUS: Down}, failed: map[string]int{dbUS: 2}, expect: 3},
		want: "192.0.2.30", prop: "1@eu-west",
	}, {
		name: "drained primary: move (an operator's evidence)",
		in:   wv{states: map[string]State{dbUS: Drained}, failed: map[string]int{dbUS: 0}},
		// A drained endpoint is never answered, even until the move lands.
		wantErr: ErrNoReadyEndpoint, prop: "1@eu-west",
	}, {
		name: "primary down, nothing else ready: stay",
		in:   wv{states: map[string]State{dbUS: Down, dbEU: Recovering, dbAP: Down}},
		want: "192.0.2.30", reason: "no other region is ready",
	}, {
		name: "primary down, eu not ready: the next ready region in order",
		in:   wv{states: map[string]State{dbUS: Down, dbEU: Down}},
		want: "192.0.2.30", prop: "1@ap-southeast",
	}, {
		name: "start-up not complete: evidence, but no proposal",
		in:   wv{states: map[string]State{dbUS: Down}, notDone: true},
		want: "192.0.2.30", reason: "proposes no change until its start-up is complete",
	}, {
		name: "no quorum inside the grace: answer the record, propose nothing",
		in:   wv{states: map[string]State{dbUS: Down}, noQuo: 4 * time.Second, expect: 3, failed: map[string]int{dbUS: 3}},
		want: "192.0.2.30", reason: "then SERVFAIL", recheck: t0.Add(6 * time.Second),
	}, {
		name:    "no quorum past the grace: fenced, SERVFAIL",
		in:      wv{noQuo: 10 * time.Second, expect: 3},
		wantErr: ErrUnavailable, reason: "write names answer SERVFAIL",
	}, {
		name: "record term 3 on eu-west: answered everywhere, manual failback stays",
		in:   wv{recs: []WriteActive{eu3}},
		want: "198.51.100.30", reason: "failback is manual although us-east is ready",
	}, {
		name: "record's region down: propose term 4",
		in:   wv{recs: []WriteActive{eu3}, states: map[string]State{dbEU: Down}},
		want: "198.51.100.30", prop: "4@us-east",
	}, {
		name: "record names a region no longer in the order: move",
		in:   wv{recs: []WriteActive{rec3(dbName, "mars", 2, "node-b")}},
		prop: "3@us-east", wantErr: ErrNoReadyEndpoint,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := snapAt(t, tc.in.view(t), t0)
			got, err := writeAnswer(s, dbName)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) && !(tc.wantErr == ErrNoReadyEndpoint && err != nil) {
					t.Fatalf("answer %q %v, want %v", got, err, tc.wantErr)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("answer %q %v, want %s", got, err, tc.want)
			}
			p := proposalFor(s, dbName)
			switch {
			case tc.prop == "" && p != nil:
				t.Fatalf("unexpected proposal %+v", *p)
			case tc.prop != "" && p == nil:
				t.Fatalf("no proposal, want %s; reason %q", tc.prop, s.Writes()[0].Reason)
			case p != nil:
				if g := strconv.FormatUint(p.Term, 10) + "@" + p.Region; g != tc.prop {
					t.Fatalf("proposal %s, want %s", g, tc.prop)
				}
				if p.By != "" || p.Backers != nil {
					t.Fatalf("the cluster, not the Snapshot, names proposer and backers: %+v", *p)
				}
			}
			_, why, _ := s.ActiveRegion(dbName)
			if !strings.Contains(why, tc.reason) {
				t.Fatalf("reason %q lacks %q", why, tc.reason)
			}
			if !s.RebuildAt().Equal(tc.recheck) {
				t.Fatalf("RebuildAt %v, want %v", s.RebuildAt(), tc.recheck)
			}
		})
	}
}

// TestWriteFailoverRecord: a failover proposal carries what an operator
// needs afterwards: from, reason, the new primary's lag (RPO estimate)
// and the detection time from the old primary's last ready moment.
func TestWriteFailoverRecord(t *testing.T) {
	v := wv{states: map[string]State{dbUS: Down}}.view(t)
	es := v.Targets[dbUS]
	es.LastReady = t0.Add(-1500 * time.Millisecond)
	v.Targets[dbUS] = es
	es = v.Targets[dbEU]
	es.Lag, es.LagKnown = 300*time.Millisecond, true
	v.Targets[dbEU] = es
	s := snapAt(t, v, t0)
	p := proposalFor(s, dbName)
	if p == nil {
		t.Fatal("no proposal")
	}
	if p.From != "us-east" || p.Region != "eu-west" || !p.LagKnown || p.Lag != 300*time.Millisecond ||
		p.Detection != 1500*time.Millisecond || !p.At.Equal(t0) || !strings.Contains(p.Reason, "failover from us-east") {
		t.Fatalf("record %+v", *p)
	}
	// Accepted: every node answers it, the history has it.
	s = settle(t, s)
	if got, _ := writeAnswer(s, dbName); got != "198.51.100.30" {
		t.Fatalf("after the record: %s", got)
	}
	if h := s.WriteHistory(); len(h) != 1 || h[0].Term != 1 || h[0].Region != "eu-west" {
		t.Fatalf("history %+v", h)
	}
}

// TestWriteAutoFailbackStraight: after a failover to the last region,
// auto failback waits for the most preferred ready region's hold and
// goes straight there, never through the regions between.
func TestWriteAutoFailbackStraight(t *testing.T) {
	ap := rec3(dbAuto, "ap-southeast", 2, "node-b")
	// eu has been ready for 2 minutes (hold 60s), us for 10 s.
	in := wv{recs: []WriteActive{ap}, since: map[string]time.Time{dbAutoEU: t0.Add(-2 * time.Minute), dbAutoUS: t0.Add(-10 * time.Second)}}
	s := snapAt(t, in.view(t), t0)
	if p := proposalFor(s, dbAuto); p != nil {
		t.Fatalf("failback to %s while us-east, the most preferred, is still in its hold", p.Region)
	}
	if due := t0.Add(50 * time.Second); !s.RebuildAt().Equal(due) {
		t.Fatalf("RebuildAt %v, want %v", s.RebuildAt(), due)
	}
	s = s.WithView(s.View(), t0.Add(50*time.Second))
	p := proposalFor(s, dbAuto)
	if p == nil || p.Region != "us-east" || p.Term != 3 || p.From != "ap-southeast" {
		t.Fatalf("proposal %+v, want term 3 to us-east", p)
	}
	// us-east not ready at all: eu-west, once its hold is over.
	in.states = map[string]State{dbAutoUS: Down}
	s = snapAt(t, in.view(t), t0)
	if p := proposalFor(s, dbAuto); p == nil || p.Region != "eu-west" {
		t.Fatalf("proposal %+v, want eu-west", p)
	}
	// The record's own region must be ready for a failback to start.
	in.states = map[string]State{dbAutoAP: Recovering}
	s = snapAt(t, in.view(t), t0)
	if p := proposalFor(s, dbAuto); p != nil {
		t.Fatalf("failback proposed from a region that is not ready: %+v", p)
	}
}

func TestWriteRecordOrder(t *testing.T) {
	a := WriteActive{Term: 2, By: "a"}
	for _, tc := range []struct {
		x, y WriteActive
		want bool
	}{
		{WriteActive{Term: 3, By: "a"}, a, true},
		{WriteActive{Term: 1, By: "z"}, a, false},
		{WriteActive{Term: 2, By: "b"}, a, true}, // same term: the greater proposer, on every node
		{WriteActive{Term: 2, By: "a"}, a, false},
		// The clock never orders records.
		{WriteActive{Term: 1, By: "b", At: t0.Add(time.Hour)}, WriteActive{Term: 2, By: "a", At: t0}, false},
	} {
		if got := tc.x.Supersedes(tc.y); got != tc.want {
			t.Errorf("%+v supersedes %+v = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	ok := WriteActive{Name: dbName, Term: 1, Region: "eu-west", By: "a", Backers: []string{"a", "b"}}
	for _, tc := range []struct {
		r      WriteActive
		expect int
		bad    string
	}{
		{ok, 3, ""},
		{ok, 4, "no majority"},
		{WriteActive{Name: dbName, Term: 1, Region: "eu-west", By: "a", Backers: []string{"a"}}, 1, ""},
		{WriteActive{Name: dbName, Term: 1, Region: "eu-west", By: "a", Backers: []string{"a", "a"}}, 3, "no majority"},
		{WriteActive{Name: dbName, Term: 1, Region: "eu-west", By: "c", Backers: []string{"a", "b"}}, 3, "not among its backers"},
		{WriteActive{Name: dbName, Region: "eu-west", By: "a", Backers: []string{"a"}}, 1, "without a term"},
		{WriteActive{Name: dbName, Term: 1, By: "a", Backers: []string{"a"}}, 1, "without a name or region"},
	} {
		err := CheckRecord(tc.r, tc.expect)
		if (err == nil) != (tc.bad == "") || (err != nil && !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("CheckRecord(%+v, %d) = %v, want %q", tc.r, tc.expect, err, tc.bad)
		}
	}
}

// node is one simulated cluster member for the partition test: its own
// records and what it sees.
type simNode struct {
	name string
	recs map[string]WriteActive
}

// accept is the cluster's acceptance rule: a valid record that
// supersedes the one held.
func (n *simNode) accept(r WriteActive, expect int) bool {
	if CheckRecord(r, expect) != nil {
		return false
	}
	if cur, ok := n.recs[r.Name]; ok && !r.Supersedes(cur) {
		return false
	}
	n.recs[r.Name] = r
	return true
}

// TestWritePartitionAndHeal plays three nodes through a partition with
// the pure parts: node c is cut off and sees the primary fail from its
// own bad path; a and b keep it, then fail over by quorum when it
// really dies; on heal the majority's record stands everywhere.
func TestWritePartitionAndHeal(t *testing.T) {
	nodes := map[string]*simNode{}
	for _, n := range []string{"a", "b", "c"} {
		nodes[n] = &simNode{name: n, recs: map[string]WriteActive{}}
	}
	build := func(n *simNode, in wv, now time.Time) *Snapshot {
		in.recs = slices.Collect(maps.Values(n.recs))
		in.expect = 3
		v := in.view(t)
		v.Self = n.name
		return snapAt(t, v, now)
	}
	// c alone, without quorum, sees us-east down (its bad path).
	c := build(nodes["c"], wv{states: map[string]State{dbUS: Down}, failed: map[string]int{dbUS: 1}, noQuo: time.Second}, t0)
	if len(c.Proposals()) != 0 {
		t.Fatalf("a node without quorum proposed %+v", c.Proposals())
	}
	// Past the grace it answers SERVFAIL rather than a region of its own.
	c = build(nodes["c"], wv{states: map[string]State{dbUS: Down}, failed: map[string]int{dbUS: 1}, noQuo: 11 * time.Second}, t0)
	if _, err := writeAnswer(c, dbName); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("fenced node answered: %v", err)
	}
	// Even a forged record from c (one backer) is refused by a and b.
	forged := WriteActive{Name: dbName, Term: 9, Region: "ap-southeast", By: "c", Backers: []string{"c"}}
	if nodes["a"].accept(forged, 3) || nodes["b"].accept(forged, 3) {
		t.Fatal("a record without quorum was accepted")
	}
	// a and b keep us-east while it is healthy...
	a := build(nodes["a"], wv{}, t0)
	if len(a.Proposals()) != 0 {
		t.Fatalf("majority moved a healthy primary: %+v", a.Proposals())
	}
	// ...and fail over by quorum when it dies (both see it).
	a = build(nodes["a"], wv{states: map[string]State{dbUS: Down}, failed: map[string]int{dbUS: 2}}, t0.Add(time.Minute))
	p := proposalFor(a, dbName)
	if p == nil {
		t.Fatal("majority did not fail over a dead primary")
	}
	p.By, p.Backers = "a", []string{"a", "b"}
	if !nodes["a"].accept(*p, 3) || !nodes["b"].accept(*p, 3) {
		t.Fatal("quorum record refused")
	}
	// Heal: c merges what a and b hold; one primary everywhere.
	for _, r := range nodes["a"].recs {
		nodes["c"].accept(r, 3)
	}
	for _, n := range nodes {
		s := build(n, wv{states: map[string]State{dbUS: Down}, failed: map[string]int{dbUS: 3}}, t0.Add(2*time.Minute))
		if got, err := writeAnswer(s, dbName); err != nil || got != "198.51.100.30" {
			t.Fatalf("node %s after heal: %q %v, want eu-west", n.name, got, err)
		}
		if len(s.Proposals()) != 0 {
			t.Fatalf("node %s proposes after heal: %+v", n.name, s.Proposals())
		}
	}
}

// TestWriteRestart: a node that restarts takes the record from its state
// file or its peers; with only a partial view of its own it proposes
// nothing until its start-up is complete, and without any record it
// answers the configured primary, as every other node does.
func TestWriteRestart(t *testing.T) {
	eu := rec3(dbName, "eu-west", 1, "node-b")
	// Restored (state file or peer sync), first round not done, own probe
	// of eu-west failing: no proposal, the record answered.
	s := snapAt(t, wv{recs: []WriteActive{eu}, states: map[string]State{dbEU: Down}, notDone: true}.view(t), t0)
	if got, _ := writeAnswer(s, dbName); got != "198.51.100.30" || len(s.Proposals()) != 0 {
		t.Fatalf("restarted node: %s proposals %+v", got, s.Proposals())
	}
	// Without a state file and before peer sync: the configured primary
	// (term 0) — never a region picked from whichever finished first.
	s = snapAt(t, wv{states: map[string]State{dbUS: Recovering}}.view(t), t0)
	if got, _ := writeAnswer(s, dbName); got != "192.0.2.30" || len(s.Proposals()) != 0 {
		t.Fatalf("fresh node: %s proposals %+v", got, s.Proposals())
	}
}

// TestColdStart: until the node has a view (peer sync, its own first
// round, or the start-up limit), GSLB names answer SERVFAIL while static
// data is served; drained endpoints are never answered, all_down open
// included.
func TestColdStart(t *testing.T) {
	v := viewOf(testConfig(), nil)
	v.Synced, v.FirstRound = true, false // solo: synced, but nothing probed yet
	s := snapAt(t, v, t0)
	if _, err := s.Answer(Question{"app.gslb.test.", TypeA}, london); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("GSLB name before a view: %v, want ErrUnavailable", err)
	}
	if _, err := s.Answer(Question{"www.gslb.test.", TypeA}, london); err != nil {
		t.Fatalf("static data before a view: %v", err)
	}
	// A clustered node synced from a live peer has a view.
	v.Members = []Member{{Name: "node-a", Alive: true}, {Name: "node-b", Alive: true}}
	if _, err := snapAt(t, v, t0).Answer(Question{"app.gslb.test.", TypeA}, london); err != nil {
		t.Fatalf("synced from a peer: %v", err)
	}
	v.Members, v.Synced, v.StartupOver = nil, false, true
	if _, err := snapAt(t, v, t0).Answer(Question{"app.gslb.test.", TypeA}, london); err != nil {
		t.Fatalf("after the start-up limit: %v", err)
	}
	// Nothing proven ready yet, one endpoint drained: all_down open
	// answers the others only.
	v = viewOf(testConfig(), map[string]State{
		"us-east@app.gslb.test": Recovering, "eu-west@app.gslb.test": Drained,
		"ap-southeast@app.gslb.test": Unknown, "eu-central@app.gslb.test": Recovering,
	})
	a, err := snapAt(t, v, t0).Answer(Question{"app.gslb.test.", TypeA}, london)
	if err != nil || slices.Contains(addrs(a.Answer), "198.51.100.10") || len(a.Answer) != 3 {
		t.Fatalf("all_down open: %v %v, want every endpoint but the drained one", err, addrs(a.Answer))
	}
	// Everything drained or down and closed/empty: SERVFAIL, not a drained endpoint.
	v = viewOf(testConfig(), map[string]State{dbUS: Drained, dbEU: Down, dbAP: Down})
	if got, err := writeAnswer(snapAt(t, v, t0), dbName); err == nil {
		t.Fatalf("write name answered %s with its region drained and nothing ready", got)
	}
}

// TestProposeMove: an operator's move goes through the same record rule.
func TestProposeMove(t *testing.T) {
	s := snapAt(t, wv{}.view(t), t0)
	p, err := s.ProposeMove(dbName, "eu-west")
	if err != nil || p.Term != 1 || p.Region != "eu-west" || p.From != "us-east" {
		t.Fatalf("move: %+v %v", p, err)
	}
	if _, err := s.ProposeMove(dbName, "mars"); err == nil {
		t.Fatal("move to a region outside the order accepted")
	}
	if _, err := s.ProposeMove("app.gslb.test.", "eu-west"); err == nil {
		t.Fatal("move of a read name accepted")
	}
	s = snapAt(t, wv{states: map[string]State{dbEU: Down}}.view(t), t0)
	if _, err := s.ProposeMove(dbName, "eu-west"); !errors.Is(err, ErrNotReady) {
		t.Fatalf("move to a down region: %v, want ErrNotReady", err)
	}
	s = snapAt(t, wv{noQuo: time.Second, expect: 3}.view(t), t0)
	if _, err := s.ProposeMove(dbName, "eu-west"); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("move without quorum: %v, want ErrNoQuorum", err)
	}
}

package gslb

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
)

const (
	dbName     = "db.gslb.test."
	dbAutoName = "db-auto.gslb.test."
	dbUS       = "us-east@db.gslb.test"
	dbEU       = "eu-west@db.gslb.test"
	dbAP       = "ap-southeast@db.gslb.test"
	dbAutoUS   = "us-east@db-auto.gslb.test"
)

// activeView is writeView with the cluster's write-active records.
func activeView(cfg *config.Config, states map[string]State, recs ...WriteActive) View {
	v := writeView(cfg, states, nil)
	if len(recs) > 0 {
		v.Active = map[string]WriteActive{}
		for _, r := range recs {
			v.Active[r.Name] = r
		}
	}
	return v
}

func activeOf(t *testing.T, s *Snapshot, name string) (string, string) {
	t.Helper()
	r, why, ok := s.ActiveRegion(name)
	if !ok {
		t.Fatalf("%s is not a write name", name)
	}
	return r, why
}

func TestWriteActiveAdoption(t *testing.T) {
	t1 := t0.Add(time.Minute)
	for _, tc := range []struct {
		name   string
		states map[string]State
		recs   []WriteActive
		// prevDown, when set, makes the node fail over from us-east (at
		// t1) before the record arrives (at t1+1m).
		prevDown   string
		wantRegion string
		wantReason string // substring
		wantChange []WriteActive
	}{{
		name:       "newer record adopted on a fresh node (manual failback stays)",
		recs:       []WriteActive{{Name: dbName, Region: "eu-west", At: t1, By: "node-b"}},
		wantRegion: "eu-west",
		wantReason: "adopted from node-b (cluster) at " + t1.Format(time.RFC3339),
	}, {
		name:       "adopted region not ready: local failover, reported",
		states:     map[string]State{dbEU: Down},
		recs:       []WriteActive{{Name: dbName, Region: "eu-west", At: t1, By: "node-b"}},
		wantRegion: "us-east",
		wantReason: "failed over from eu-west",
		wantChange: []WriteActive{{Name: dbName, Region: "us-east", At: t1.Add(time.Minute), By: "node-a"}},
	}, {
		name:       "older record than the local failover ignored",
		prevDown:   dbUS,
		recs:       []WriteActive{{Name: dbName, Region: "ap-southeast", At: t1.Add(-time.Second), By: "node-b"}},
		wantRegion: "eu-west",
		wantReason: "staying on eu-west: failback is manual",
	}, {
		name:       "newer record than the local failover adopted",
		prevDown:   dbUS,
		recs:       []WriteActive{{Name: dbName, Region: "ap-southeast", At: t1.Add(time.Second), By: "node-b"}},
		wantRegion: "ap-southeast",
		wantReason: "adopted from node-b",
	}, {
		name:       "record for a region that left the config ignored",
		recs:       []WriteActive{{Name: dbName, Region: "sa-east", At: t1, By: "node-b"}},
		wantRegion: "us-east",
		wantReason: "us-east is the most preferred ready region",
	}, {
		name:       "record for a region outside the name's endpoints ignored",
		recs:       []WriteActive{{Name: dbName, Region: "eu-central", At: t1, By: "node-b"}},
		wantRegion: "us-east",
		wantReason: "us-east is the most preferred ready region",
	}, {
		name:       "record for another name ignored",
		recs:       []WriteActive{{Name: "app.gslb.test.", Region: "eu-west", At: t1, By: "node-b"}},
		wantRegion: "us-east",
		wantReason: "us-east is the most preferred ready region",
	}, {
		name:       "newer copy of the same region: nothing changes, nothing reported",
		prevDown:   dbUS,
		recs:       []WriteActive{{Name: dbName, Region: "eu-west", At: t1.Add(time.Second), By: "node-b"}},
		wantRegion: "eu-west",
		wantReason: "staying on eu-west: failback is manual",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			s, err := NewSnapshot(Options{Config: cfg, View: activeView(cfg, nil), Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if tc.prevDown != "" {
				s = s.WithView(activeView(cfg, map[string]State{tc.prevDown: Down}), t1)
				if ch := s.ActiveChanges(); len(ch) != 1 || ch[0].Name != dbName || !ch[0].At.Equal(t1) {
					t.Fatalf("local failover reported %+v", ch)
				}
			}
			s = s.WithView(activeView(cfg, tc.states, tc.recs...), t1.Add(time.Minute))
			r, why := activeOf(t, s, dbName)
			adopted := strings.Contains(tc.wantReason, "adopted")
			if r != tc.wantRegion || !strings.Contains(why, tc.wantReason) || strings.Contains(why, "adopted") != adopted {
				t.Fatalf("active %q (%s), want %q (…%s…)", r, why, tc.wantRegion, tc.wantReason)
			}
			if ch := s.ActiveChanges(); !reflect.DeepEqual(ch, tc.wantChange) {
				t.Fatalf("ActiveChanges = %+v, want %+v", ch, tc.wantChange)
			}
			// The answer follows the active region.
			a, err := s.Answer(Question{dbName, TypeA}, london)
			if err != nil || len(a.Answer) != 1 || a.Region != tc.wantRegion {
				t.Fatalf("answer %v %v region %q", err, fmtRecs(a.Answer), a.Region)
			}
			// Rebuilding with the same View (the cluster now holding our
			// own report, if any) changes and reports nothing.
			v := activeView(cfg, tc.states, tc.recs...)
			for _, c := range tc.wantChange {
				if v.Active == nil {
					v.Active = map[string]WriteActive{}
				}
				v.Active[c.Name] = c
			}
			n := s.WithView(v, t1.Add(2*time.Minute))
			if r2, why2 := activeOf(t, n, dbName); r2 != r || strings.Contains(why2, "adopted") != adopted {
				t.Fatalf("rebuild moved %q (%s) to %q (%s)", r, why, r2, why2)
			}
			if ch := n.ActiveChanges(); len(ch) != 0 {
				t.Fatalf("rebuild reported %+v: ping-pong", ch)
			}
		})
	}
}

// TestWriteActiveExplain: the explanation of a write name says the active
// region was adopted, and from whom.
func TestWriteActiveExplain(t *testing.T) {
	cfg := testConfig()
	at := t0.Add(-time.Minute)
	s, err := NewSnapshot(Options{Config: cfg, Locator: testLocator(t), Now: t0,
		View: activeView(cfg, nil, WriteActive{Name: dbName, Region: "eu-west", At: at, By: "node-c"})})
	if err != nil {
		t.Fatal(err)
	}
	ex := s.Explain(dbName, TypeA, london)
	joined := strings.Join(ex.Reasons, "\n")
	if !slices.Equal(ex.Answer, []string{"198.51.100.30"}) ||
		!strings.Contains(joined, "active region: eu-west") || !strings.Contains(joined, "adopted from node-c (cluster)") {
		t.Fatalf("explanation %v:\n%s", ex.Answer, joined)
	}
	// The origin stays in the reason while the region stays.
	s = s.WithView(activeView(cfg, nil), t0.Add(time.Minute))
	if r, why := activeOf(t, s, dbName); r != "eu-west" || !strings.Contains(why, "adopted from node-c") ||
		!strings.Contains(why, "failback is manual") {
		t.Fatalf("after rebuild: %q (%s)", r, why)
	}
	// The next local decision replaces it.
	s = s.WithView(activeView(cfg, map[string]State{dbEU: Down}), t0.Add(2*time.Minute))
	if r, why := activeOf(t, s, dbName); r != "us-east" || strings.Contains(why, "adopted") {
		t.Fatalf("after failover: %q (%s)", r, why)
	}
}

// TestWriteActiveAutoFailbackAfterAdoption: an adopted region is not an
// initial choice, so the failback rules decide what comes next; with
// failback auto and the preferred region ready for the hold, the node
// fails back and reports it.
func TestWriteActiveAutoFailbackAfterAdoption(t *testing.T) {
	cfg := testConfig()
	rec := WriteActive{Name: dbAutoName, Region: "eu-west", At: t0.Add(-time.Minute), By: "node-b"}
	since := t0.Add(-30 * time.Second) // us-east ready for 30s of the 60s hold
	v := activeView(cfg, nil, rec)
	es := v.Endpoints[dbAutoUS]
	es.Since = since
	v.Endpoints[dbAutoUS] = es
	s, err := NewSnapshot(Options{Config: cfg, View: v, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := activeOf(t, s, dbAutoName); r != "eu-west" || len(s.ActiveChanges()) != 0 {
		t.Fatalf("active %q, changes %+v: want eu-west adopted, waiting for the hold", r, s.ActiveChanges())
	}
	if want := since.Add(time.Minute); !s.RebuildAt().Equal(want) {
		t.Fatalf("RebuildAt %v, want %v", s.RebuildAt(), want)
	}
	s = s.WithView(v, since.Add(time.Minute))
	want := []WriteActive{{Name: dbAutoName, Region: "us-east", At: since.Add(time.Minute), By: "node-a"}}
	if r, _ := activeOf(t, s, dbAutoName); r != "us-east" || !reflect.DeepEqual(s.ActiveChanges(), want) {
		t.Fatalf("active %q, changes %+v: want a reported failback to us-east", r, s.ActiveChanges())
	}
}

// TestWriteActiveTwoNodes is the problem this solves: after a failover
// with manual failback, a node that restarts must send writes where the
// others do, not to the most preferred ready region.
func TestWriteActiveTwoNodes(t *testing.T) {
	cfgA, cfgB := testConfig(), testConfig()
	cfgB.Node = "node-b"
	// cluster is the gossip layer in miniature: newest At, then By, wins.
	cluster := map[string]WriteActive{}
	publish := func(s *Snapshot) {
		for _, c := range s.ActiveChanges() {
			cur, ok := cluster[c.Name]
			if !ok || c.At.After(cur.At) || (c.At.Equal(cur.At) && c.By > cur.By) {
				cluster[c.Name] = c
			}
		}
	}
	view := func(cfg *config.Config, states map[string]State) View {
		v := writeView(cfg, states, nil)
		v.Active = maps.Clone(cluster)
		return v
	}
	a, err := NewSnapshot(Options{Config: cfgA, View: view(cfgA, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSnapshot(Options{Config: cfgB, View: view(cfgB, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	publish(a)
	publish(b)
	if len(cluster) != 0 {
		t.Fatalf("initial choices gossiped: %+v", cluster)
	}
	// us-east fails: both fail over to eu-west on their own; the newer
	// decision (b's, a second later) wins.
	a = a.WithView(view(cfgA, map[string]State{dbUS: Down}), t0.Add(time.Minute))
	b = b.WithView(view(cfgB, map[string]State{dbUS: Down}), t0.Add(time.Minute+time.Second))
	publish(a)
	publish(b)
	if r := cluster[dbName]; r.Region != "eu-west" || r.By != "node-b" {
		t.Fatalf("cluster holds %+v", r)
	}
	// us-east is back: manual failback keeps eu-west on both.
	a = a.WithView(view(cfgA, nil), t0.Add(2*time.Minute))
	b = b.WithView(view(cfgB, nil), t0.Add(2*time.Minute))
	publish(a)
	publish(b)
	// b restarts (no Previous): without the cluster's record it would pick
	// us-east, the most preferred ready region.
	b, err = NewSnapshot(Options{Config: cfgB, View: view(cfgB, nil), Now: t0.Add(3 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	publish(b)
	ra, _ := activeOf(t, a, dbName)
	rb, _ := activeOf(t, b, dbName)
	if ra != "eu-west" || rb != "eu-west" {
		t.Fatalf("after b's restart: a sends writes to %q, b to %q", ra, rb)
	}
	// eu-west fails: a decides first; b adopts a's newer decision and
	// agrees without reporting one of its own.
	a = a.WithView(view(cfgA, map[string]State{dbEU: Down}), t0.Add(4*time.Minute))
	publish(a)
	b = b.WithView(view(cfgB, map[string]State{dbEU: Down}), t0.Add(4*time.Minute+time.Second))
	publish(b)
	ra, _ = activeOf(t, a, dbName)
	rb, whyB := activeOf(t, b, dbName)
	if ra != "us-east" || rb != "us-east" || len(b.ActiveChanges()) != 0 || !strings.Contains(whyB, "adopted from node-a") {
		t.Fatalf("a %q, b %q (%s), b reported %+v", ra, rb, whyB, b.ActiveChanges())
	}
	// A config reload keeps what was adopted and reports nothing.
	b, err = NewSnapshot(Options{Config: cfgB, Previous: b, View: view(cfgB, map[string]State{dbEU: Down}), Now: t0.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := activeOf(t, b, dbName); r != "us-east" || len(b.ActiveChanges()) != 0 {
		t.Fatalf("reload: %q, %+v", r, b.ActiveChanges())
	}
}

func TestAgreeCopiesActive(t *testing.T) {
	in := map[string]WriteActive{dbName: {Name: dbName, Region: "eu-west", At: t0, By: "node-b"}}
	v := Agree(AgreeInput{Now: t0, Self: "node-a", Expect: 1, Active: in})
	if !reflect.DeepEqual(v.Active, in) {
		t.Fatalf("View.Active = %+v, want %+v", v.Active, in)
	}
	in[dbName] = WriteActive{Name: dbName, Region: "us-east", At: t0.Add(time.Second), By: "x"}
	if v.Active[dbName].Region != "eu-west" {
		t.Fatal("the View shares the input's map")
	}
	if v := Agree(AgreeInput{Now: t0, Self: "node-a", Expect: 1}); v.Active != nil {
		t.Fatalf("no records: View.Active = %+v, want nil (omitted in JSON)", v.Active)
	}
}

package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

type stepKind int

const (
	liveOK stepKind = iota
	liveFail
	lagRead
	lagFail
)

type step struct {
	at   time.Duration // since t0
	kind stepKind
	lag  time.Duration
	want gslb.State
	// reason, when set, must occur in the reason after this step.
	reason string
}

func ok(at time.Duration, want gslb.State) step   { return step{at: at, kind: liveOK, want: want} }
func fail(at time.Duration, want gslb.State) step { return step{at: at, kind: liveFail, want: want} }
func lag(at, l time.Duration, want gslb.State) step {
	return step{at: at, kind: lagRead, lag: l, want: want}
}
func lagErr(at time.Duration, want gslb.State) step { return step{at: at, kind: lagFail, want: want} }

func (s step) why(r string) step { s.reason = r; return s }

const sec = time.Second

func TestMachine(t *testing.T) {
	noLag := MachineConfig{Rise: 2, Fall: 3}
	withLag := MachineConfig{Rise: 2, Fall: 2, Readiness: true, MaxLag: 2 * sec, Hold: 5 * sec, LagFall: 2}
	cases := []struct {
		name  string
		cfg   MachineConfig
		steps []step
	}{
		{"first failure is down at once", noLag, []step{
			fail(0, gslb.Down).why("1 consecutive probes failed: boom"),
			fail(sec, gslb.Down).why("2 consecutive"),
			ok(2*sec, gslb.Down).why("1 of 2 probes ok"),
			ok(3*sec, gslb.Ready),
		}},
		{"first success is recovering until rise", noLag, []step{
			ok(0, gslb.Recovering).why("alive not yet proven, 1 of 2"),
			ok(sec, gslb.Ready),
		}},
		{"unproven then failure is down", noLag, []step{
			ok(0, gslb.Recovering),
			fail(sec, gslb.Down),
			ok(2*sec, gslb.Down),
			ok(3*sec, gslb.Ready),
		}},
		{"fall edge", noLag, []step{
			ok(0, gslb.Recovering), ok(sec, gslb.Ready),
			fail(2*sec, gslb.Ready).why("1 of 3 probes failed"),
			fail(3*sec, gslb.Ready),
			fail(4*sec, gslb.Down).why("3 consecutive probes failed"),
		}},
		{"rise edge after down", noLag, []step{
			fail(0, gslb.Down),
			ok(sec, gslb.Down), fail(2*sec, gslb.Down), ok(3*sec, gslb.Down), ok(4*sec, gslb.Ready),
		}},
		{"flapping never changes a ready endpoint", noLag, []step{
			ok(0, gslb.Recovering), ok(sec, gslb.Ready),
			fail(2*sec, gslb.Ready), fail(3*sec, gslb.Ready), ok(4*sec, gslb.Ready),
			fail(5*sec, gslb.Ready), ok(6*sec, gslb.Ready), fail(7*sec, gslb.Ready), fail(8*sec, gslb.Ready),
			ok(9*sec, gslb.Ready),
		}},
		{"flapping never raises a down endpoint", noLag, []step{
			fail(0, gslb.Down), ok(sec, gslb.Down), fail(2*sec, gslb.Down), ok(3*sec, gslb.Down), fail(4*sec, gslb.Down),
		}},
		{"rise 1 fall 1", MachineConfig{Rise: 1, Fall: 1}, []step{
			ok(0, gslb.Ready), fail(sec, gslb.Down), ok(2*sec, gslb.Ready),
		}},
		{"lag under for the whole hold", withLag, []step{
			ok(0, gslb.Recovering), ok(sec, gslb.Recovering).why("no lag read yet"),
			lag(sec, 0, gslb.Recovering).why("for 0s of 5s hold"),
			lag(3*sec, sec, gslb.Recovering),
			lag(5*sec, 1900*time.Millisecond, gslb.Recovering).why("for 4s of 5s hold"),
			lag(6*sec, 0, gslb.Ready).why("for hold 5s"),
		}},
		{"lag over restarts the hold", withLag, []step{
			ok(0, gslb.Recovering), ok(sec, gslb.Recovering),
			lag(sec, 0, gslb.Recovering),
			lag(4*sec, 2*sec, gslb.Recovering).why("lag 2s >= max_lag 2s"),
			lag(5*sec, 0, gslb.Recovering),
			lag(9*sec, 0, gslb.Recovering),
			lag(10*sec, 0, gslb.Ready),
		}},
		{"failed lag read restarts the hold and is never ready", withLag, []step{
			ok(0, gslb.Recovering), ok(sec, gslb.Recovering),
			lagErr(sec, gslb.Recovering).why("lag read failed: boom"),
			lag(2*sec, 0, gslb.Recovering),
			lagErr(6*sec, gslb.Recovering),
			lagErr(20*sec, gslb.Recovering),
			lag(21*sec, 0, gslb.Recovering),
			lag(26*sec, 0, gslb.Ready),
		}},
		{"negative lag is bad", withLag, []step{
			ok(0, gslb.Recovering), ok(sec, gslb.Recovering),
			lag(sec, 0, gslb.Recovering),
			lag(3*sec, -sec, gslb.Recovering).why("negative lag"),
			lag(6*sec, 0, gslb.Recovering),
			lag(11*sec, 0, gslb.Ready),
		}},
		{"hold counts from becoming alive", withLag, []step{
			lag(0, 0, gslb.Unknown),
			lag(10*sec, 0, gslb.Unknown),
			ok(11*sec, gslb.Recovering), ok(12*sec, gslb.Recovering),
			lag(13*sec, 0, gslb.Recovering),
			lag(16*sec, 0, gslb.Recovering),
			lag(17*sec, 0, gslb.Ready),
		}},
		{"ready leaves after lag fall bad reads", withLag, []step{
			ok(0, gslb.Recovering), ok(sec, gslb.Recovering),
			lag(sec, 0, gslb.Recovering), lag(6*sec, 0, gslb.Ready),
			lag(7*sec, 30*sec, gslb.Ready).why("1 of 2 lag reads bad: lag 30s >= max_lag 2s"),
			lag(8*sec, 0, gslb.Ready),
			lagErr(9*sec, gslb.Ready),
			lag(10*sec, 30*sec, gslb.Recovering).why("2 lag reads bad"),
			lag(11*sec, 0, gslb.Recovering),
			lag(16*sec, 0, gslb.Ready),
		}},
		{"down from ready with lag, then a fresh hold", withLag, []step{
			ok(0, gslb.Recovering), ok(sec, gslb.Recovering),
			lag(sec, 0, gslb.Recovering), lag(6*sec, 0, gslb.Ready),
			fail(7*sec, gslb.Ready), lag(7*sec, 0, gslb.Ready),
			fail(8*sec, gslb.Down),
			lag(9*sec, 0, gslb.Down),
			ok(10*sec, gslb.Down), lag(10*sec, 0, gslb.Down),
			ok(11*sec, gslb.Recovering).why("for 0s of 5s hold"),
			lag(12*sec, 0, gslb.Recovering),
			lag(15*sec, 0, gslb.Recovering),
			lag(16*sec, 0, gslb.Ready),
		}},
		{"zero hold is ready at the first good read", MachineConfig{Rise: 1, Fall: 1, Readiness: true, MaxLag: sec, LagFall: 1}, []step{
			ok(0, gslb.Recovering), lag(0, 0, gslb.Ready), lag(sec, sec, gslb.Recovering), lag(2*sec, 0, gslb.Ready),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			m := NewMachine(tc.cfg)
			if m.State() != gslb.Unknown {
				t.Fatalf("initial state %s", m.State())
			}
			prev := gslb.Unknown
			since := time.Time{}
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				var c Change
				switch s.kind {
				case liveOK:
					c = m.Liveness(now, nil)
				case liveFail:
					c = m.Liveness(now, errors.New("boom"))
				case lagRead:
					c = m.Lag(now, s.lag, nil)
				case lagFail:
					c = m.Lag(now, 0, errors.New("boom"))
				}
				if c.To != s.want || m.State() != s.want {
					t.Fatalf("step %d (%+v): state %s (change %s->%s, %q), want %s", i, s, m.State(), c.From, c.To, c.Reason, s.want)
				}
				if c.From != prev {
					t.Fatalf("step %d: change from %s, want %s", i, c.From, prev)
				}
				if c.Changed() {
					since = now
				}
				obs := m.Observation()
				if obs.State != s.want || obs.Reason != c.Reason || !obs.ObservedAt.Equal(now) || !obs.Since.Equal(since) {
					t.Fatalf("step %d: observation %+v (since want %v)", i, obs, since)
				}
				if s.reason != "" && !strings.Contains(c.Reason, s.reason) {
					t.Fatalf("step %d: reason %q does not contain %q", i, c.Reason, s.reason)
				}
				prev = s.want
			}
		})
	}
}

// TestMachineObservation: what an observation says besides the state:
// positive evidence of failure (Failed) and a pending change (Transition).
func TestMachineObservation(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := MachineConfig{Rise: 2, Fall: 3, Readiness: true, MaxLag: 2 * sec, Hold: 5 * sec, LagFall: 2}
	m := NewMachine(cfg)
	type want struct {
		state              gslb.State
		failed, transition bool
	}
	check := func(step string, w want) gslb.Observation {
		t.Helper()
		o := m.Observation()
		if o.State != w.state || o.Failed != w.failed || o.Transition != w.transition {
			t.Fatalf("%s: state %s failed %v transition %v, want %+v", step, o.State, o.Failed, o.Transition, w)
		}
		return o
	}
	// Start: one success, not yet proven, is no failure.
	m.Liveness(t0, nil)
	check("alive not yet proven", want{gslb.Recovering, false, true})
	m.Liveness(t0.Add(sec), nil)
	o := check("alive, no lag read: recovering since start", want{gslb.Recovering, false, true})
	if o.LagKnown {
		t.Fatal("lag known before any read")
	}
	m.Lag(t0.Add(2*sec), 500*time.Millisecond, nil)
	m.Lag(t0.Add(7*sec), 0, nil)
	check("ready after the hold", want{gslb.Ready, false, false})
	// One bad lag read (below the lag fall): still ready, in transition.
	m.Lag(t0.Add(8*sec), 5*sec, nil)
	check("one bad lag read", want{gslb.Ready, false, true})
	// Lag rose for good: recovering after ready is a failure.
	m.Lag(t0.Add(9*sec), 5*sec, nil)
	check("lag rose", want{gslb.Recovering, true, true})
	m.Lag(t0.Add(10*sec), 0, nil)
	m.Lag(t0.Add(15*sec), 0, nil)
	check("ready again", want{gslb.Ready, false, false})
	// Failing probes below fall: ready, in transition, Failing (fast probes).
	m.Liveness(t0.Add(16*sec), errors.New("refused"))
	check("1 of 3 probes failed", want{gslb.Ready, false, true})
	if !m.Failing() {
		t.Fatal("not Failing after a failed probe of an alive endpoint")
	}
	m.Liveness(t0.Add(17*sec), errors.New("refused"))
	m.Liveness(t0.Add(18*sec), errors.New("refused"))
	check("down after fall", want{gslb.Down, true, false})
	if m.Failing() {
		t.Fatal("still Failing once down: the normal interval applies")
	}
	m.Liveness(t0.Add(19*sec), nil)
	check("down, 1 of 2 successes", want{gslb.Down, true, true})
	m.Liveness(t0.Add(20*sec), nil)
	check("alive again, proving the lag: still a failure", want{gslb.Recovering, true, true})

	// A fresh machine whose first probe fails: down at once, a failure.
	m = NewMachine(cfg)
	m.Liveness(t0, errors.New("refused"))
	check("first probe failed", want{gslb.Down, true, false})
}

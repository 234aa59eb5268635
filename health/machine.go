package health

import (
	"fmt"
	"time"

	"github.com/gslbd/gslbd/gslb"
)

// MachineConfig holds the timings one endpoint's state machine needs.
type MachineConfig struct {
	// Rise is how many consecutive liveness successes make a down endpoint
	// alive; Fall how many consecutive failures make an alive one down.
	// Values below 1 count as 1.
	Rise, Fall int
	// Readiness says the endpoint has a lag source; without one an alive
	// endpoint is ready.
	Readiness bool
	// MaxLag: a lag read is good when 0 <= lag < MaxLag.
	MaxLag time.Duration
	// Hold is how long every lag read must stay good (while alive) before
	// a recovering endpoint becomes ready.
	Hold time.Duration
	// LagFall is how many consecutive bad lag reads take a ready endpoint
	// back to recovering. Values below 1 count as 1.
	LagFall int
}

// Change is the outcome of feeding one result to a Machine.
type Change struct {
	From, To gslb.State
	// Reason is the new state's reason (set whether or not it changed).
	Reason string
}

// Changed reports whether the state moved.
func (c Change) Changed() bool { return c.From != c.To }

type aliveness int8

const (
	aliveUnknown aliveness = iota
	aliveYes
	aliveNo
)

// Machine is the per-endpoint state machine of ARCHITECTURE.md, minus
// drains (the cluster layer owns those). It is pure: time comes in with
// every result, and it does no I/O. A Machine is not safe for concurrent
// use; the Manager guards each one with its target's mutex.
//
// Liveness: the endpoint is Unknown until its first result. While its
// liveness is not yet known, a failure makes it Down at once (nothing
// shows it was ever up) and Rise successes make it alive; until then it
// is Recovering. Afterwards Fall consecutive failures make it Down and,
// from Down, Rise consecutive successes make it alive again.
//
// Readiness: without a lag source, alive means Ready. With one, an alive
// endpoint is Recovering until every lag read has been good for Hold,
// counted from the later of the first good read of the current run and
// the moment it became alive (so a region that was down always serves a
// fresh hold). A failed read, a lag >= MaxLag or a negative lag is bad and
// restarts the hold. A Ready endpoint goes back to Recovering only after
// LagFall consecutive bad reads, so one lost read does not flap it.
type Machine struct {
	cfg MachineConfig

	state      gslb.State
	since      time.Time
	observedAt time.Time
	reason     string

	alive      aliveness
	aliveSince time.Time
	succRun    int
	failRun    int
	liveErr    string

	lagSeen   bool
	lag       time.Duration
	lagKnown  bool
	lagErr    string
	goodSince time.Time // zero when the current lag run is bad
	badRun    int
	// everReady: the machine has been Ready since it started, so a later
	// Recovering is a failure (lag rose), not a start not yet proven.
	everReady bool
}

// NewMachine returns a machine in state Unknown.
func NewMachine(c MachineConfig) *Machine {
	c.Rise = max(c.Rise, 1)
	c.Fall = max(c.Fall, 1)
	c.LagFall = max(c.LagFall, 1)
	return &Machine{cfg: c, state: gslb.Unknown, reason: "no result yet"}
}

// State returns the current state.
func (m *Machine) State() gslb.State { return m.state }

// Liveness feeds one liveness result (err == nil is a success) taken at now.
func (m *Machine) Liveness(now time.Time, err error) Change {
	if err == nil {
		m.succRun++
		m.failRun = 0
		m.liveErr = ""
		if m.alive != aliveYes && m.succRun >= m.cfg.Rise {
			m.alive = aliveYes
			m.aliveSince = now
		}
	} else {
		m.failRun++
		m.succRun = 0
		m.liveErr = err.Error()
		if m.alive == aliveUnknown || (m.alive == aliveYes && m.failRun >= m.cfg.Fall) {
			m.alive = aliveNo
		}
	}
	return m.eval(now)
}

// Lag feeds one lag read taken at now; err != nil is a failed read.
func (m *Machine) Lag(now time.Time, lag time.Duration, err error) Change {
	m.lagSeen = true
	switch {
	case err != nil:
		m.lagKnown = false
		m.lagErr = "lag read failed: " + err.Error()
	case lag < 0:
		m.lagKnown = false
		m.lagErr = fmt.Sprintf("negative lag %s", lag)
	default:
		m.lag, m.lagKnown = lag, true
		m.lagErr = ""
		if lag >= m.cfg.MaxLag {
			m.lagErr = fmt.Sprintf("lag %s >= max_lag %s", lag, m.cfg.MaxLag)
		}
	}
	if m.lagErr == "" {
		m.badRun = 0
		if m.goodSince.IsZero() {
			m.goodSince = now
		}
	} else {
		m.badRun++
		m.goodSince = time.Time{}
	}
	return m.eval(now)
}

// eval recomputes state and reason after a result at now.
func (m *Machine) eval(now time.Time) Change {
	m.observedAt = now
	from := m.state
	to, reason := m.decide(now)
	if to != from {
		m.state, m.since = to, now
	}
	if to == gslb.Ready {
		m.everReady = true
	}
	m.reason = reason
	return Change{From: from, To: to, Reason: reason}
}

func (m *Machine) decide(now time.Time) (gslb.State, string) {
	switch m.alive {
	case aliveNo:
		if m.failRun > 0 {
			return gslb.Down, fmt.Sprintf("%d consecutive probes failed: %s", m.failRun, m.liveErr)
		}
		return gslb.Down, fmt.Sprintf("down, %d of %d probes ok", m.succRun, m.cfg.Rise)
	case aliveUnknown:
		if m.succRun == 0 {
			return gslb.Unknown, "no result yet"
		}
		return gslb.Recovering, fmt.Sprintf("alive not yet proven, %d of %d probes ok", m.succRun, m.cfg.Rise)
	}
	live := "alive"
	if m.failRun > 0 {
		live = fmt.Sprintf("alive, %d of %d probes failed: %s", m.failRun, m.cfg.Fall, m.liveErr)
	}
	if !m.cfg.Readiness {
		return gslb.Ready, live
	}
	if m.state == gslb.Ready && m.badRun < m.cfg.LagFall {
		if m.badRun > 0 {
			return gslb.Ready, fmt.Sprintf("%s; %d of %d lag reads bad: %s", live, m.badRun, m.cfg.LagFall, m.lagErr)
		}
		return gslb.Ready, fmt.Sprintf("%s; lag %s < max_lag %s", live, m.lag, m.cfg.MaxLag)
	}
	if !m.lagSeen {
		return gslb.Recovering, live + "; no lag read yet"
	}
	if m.goodSince.IsZero() {
		if m.state == gslb.Ready {
			return gslb.Recovering, fmt.Sprintf("%s; %d lag reads bad: %s", live, m.badRun, m.lagErr)
		}
		return gslb.Recovering, live + "; " + m.lagErr
	}
	held := now.Sub(m.holdStart())
	if held >= m.cfg.Hold {
		return gslb.Ready, fmt.Sprintf("%s; lag %s < max_lag %s for hold %s", live, m.lag, m.cfg.MaxLag, m.cfg.Hold)
	}
	return gslb.Recovering, fmt.Sprintf("%s; lag %s < max_lag %s for %s of %s hold", live, m.lag, m.cfg.MaxLag, held.Round(time.Millisecond), m.cfg.Hold)
}

func (m *Machine) holdStart() time.Time {
	if m.aliveSince.After(m.goodSince) {
		return m.aliveSince
	}
	return m.goodSince
}

// Observation returns what the machine concluded at its latest result.
// Endpoint, Node and Seq are left for the caller to fill in.
func (m *Machine) Observation() gslb.Observation {
	return gslb.Observation{
		State:      m.state,
		Lag:        m.lag,
		LagKnown:   m.lagKnown && m.lagSeen,
		Reason:     m.reason,
		ObservedAt: m.observedAt,
		Since:      m.since,
		Failed:     m.failed(),
		Transition: m.transition(),
	}
}

// failed is positive evidence of failure: Down after failed probes, or
// Recovering after the endpoint had been Ready (its lag rose, or it went
// down and is not yet back). A start not yet proven is no failure.
func (m *Machine) failed() bool {
	return m.state == gslb.Down || (m.state == gslb.Recovering && m.everReady)
}

// transition reports whether the state may change soon: failed probes
// below fall, bad lag reads below the lag fall, successes below rise,
// alive but not yet proven, or recovering (inside the hold).
func (m *Machine) transition() bool {
	switch {
	case m.state == gslb.Recovering, m.alive == aliveUnknown:
		return true
	case m.alive == aliveYes && m.failRun > 0:
		return true
	case m.state == gslb.Ready && m.badRun > 0:
		return true
	case m.state == gslb.Down && m.succRun > 0:
		return true
	}
	return false
}

// Failing reports whether the latest liveness probe failed while the
// endpoint is still alive (fewer than fall failures): the Manager then
// probes at the fast interval to reach a verdict sooner.
func (m *Machine) Failing() bool { return m.alive == aliveYes && m.failRun > 0 }

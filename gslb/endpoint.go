package gslb

import "time"

// noProbeReason is the reason shown for an endpoint without probes.
const noProbeReason = "no probe configured: ready unless drained"

// Endpoint is the agreed state of endpoint id, whose probe target is
// probe ("" without probes) and whose region is region: its target's
// state, unless an endpoint or region drain in effect at the View's time
// takes it out (the endpoint's own drain first). An endpoint without
// probes is Ready; one whose target has no agreed state yet is Unknown.
//
// Since is the later of the target's Since and the moment the endpoint's
// drain records last changed what they do to it, so an undrain shows when
// the endpoint came back rather than when its target last changed.
func (v View) Endpoint(id, probe, region string) EndpointState {
	return v.drained(EndpointState{ID: id, Probe: probe, TargetState: v.target(probe)}, region)
}

// target is the part of Endpoint that depends on the probe target alone,
// the same for every endpoint that shares it: a republish computes it
// once per changed target.
func (v View) target(probe string) TargetState {
	switch ts, ok := v.Targets[probe]; {
	case probe == "":
		return TargetState{State: Ready, Reason: noProbeReason}
	case !ok:
		return TargetState{State: Unknown, Reason: "not observed yet"}
	default:
		return ts
	}
}

// drained is the rest of Endpoint: es (its target's state) under the
// drain records of es.ID and region.
func (v View) drained(es EndpointState, region string) EndpointState {
	es.Drain, es.RegionDrain = drainOf(v.EndpointDrains, es.ID), drainOf(v.RegionDrains, region)
	for _, d := range [2]*Drain{es.Drain, es.RegionDrain} {
		if d == nil {
			continue
		}
		if d.ActiveAt(v.At) {
			es.State, es.Reason, es.Transition = Drained, d.describe(), false
			es.Since = d.changedAt(v.At)
			return es
		}
		if at := d.changedAt(v.At); at.After(es.Since) {
			es.Since = at
		}
	}
	return es
}

// changedAt is the last moment at or before t when d changed its effect:
// its window's start or end, else when it was set.
func (d Drain) changedAt(t time.Time) time.Time {
	switch {
	case d.Drained && !d.Until.IsZero() && !t.Before(d.Until):
		return d.Until
	case d.Drained && !d.From.IsZero() && !t.Before(d.From):
		return d.From
	case d.Drained && !d.From.IsZero():
		return time.Time{} // scheduled: it has done nothing yet
	}
	return d.At
}

// state is e's agreed state in s.
func (s *Snapshot) state(e *gep) EndpointState { return s.view.Endpoint(e.id, e.probe, e.region) }

// drainOf returns a copy of m[k], or nil. The copy is allocated only when
// the record exists: most endpoints have none, and Endpoint runs for every
// endpoint of every rebuilt name.
func drainOf(m map[string]Drain, k string) *Drain {
	d, ok := m[k]
	if !ok {
		return nil
	}
	p := new(Drain)
	*p = d
	return p
}

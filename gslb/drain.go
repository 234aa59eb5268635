package gslb

import (
	"time"
)

// regionKeyPrefix starts the drain-table key of a region drain. Endpoint
// IDs always hold an "@" and region names never do, so the two kinds of
// key cannot collide.
const regionKeyPrefix = "region:"

// RegionDrainKey is the key of region's drain record in AgreeInput.Drains
// and the cluster's drain table.
func RegionDrainKey(region string) string { return regionKeyPrefix + region }

// Key is the record's key in AgreeInput.Drains: the endpoint ID, or
// RegionDrainKey(Region) for a region drain.
func (d Drain) Key() string {
	if d.Region != "" {
		return RegionDrainKey(d.Region)
	}
	return d.Endpoint
}

// DrainStatus says where a drain record stands at a given time.
type DrainStatus string

// The drain statuses, as the API and the dashboard show them.
const (
	DrainActive    DrainStatus = "drained"   // in effect now
	DrainScheduled DrainStatus = "scheduled" // From is still ahead
	DrainEnded     DrainStatus = "ended"     // Until has passed
	DrainLifted    DrainStatus = "undrained" // an operator undrained
)

// StatusAt is the record's status at t: a drain with a window is in
// effect from From (inclusive) until Until (exclusive); a zero From or
// Until leaves that side open. Every node evaluates the same records
// against its own clock, so a window starts and ends everywhere without
// any message at that moment.
func (d Drain) StatusAt(t time.Time) DrainStatus {
	switch {
	case !d.Drained:
		return DrainLifted
	case !d.From.IsZero() && t.Before(d.From):
		return DrainScheduled
	case !d.Until.IsZero() && !t.Before(d.Until):
		return DrainEnded
	}
	return DrainActive
}

// ActiveAt reports whether the drain takes the endpoint(s) out at t.
func (d Drain) ActiveAt(t time.Time) bool { return d.StatusAt(t) == DrainActive }

// nextBoundary is the earliest window edge of d after t (zero if none):
// when its status changes next.
func (d Drain) nextBoundary(t time.Time) time.Time {
	if !d.Drained {
		return time.Time{}
	}
	if !d.From.IsZero() && d.From.After(t) {
		return d.From
	}
	if !d.Until.IsZero() && d.Until.After(t) {
		return d.Until
	}
	return time.Time{}
}

// NextDrainChange is the earliest time after now at which any of drains
// starts or ends (zero if none will): when the agreement must run again
// even if nothing else changes.
func NextDrainChange(drains map[string]Drain, now time.Time) time.Time {
	var next time.Time
	for _, d := range drains {
		if b := d.nextBoundary(now); !b.IsZero() && (next.IsZero() || b.Before(next)) {
			next = b
		}
	}
	return next
}

// describe is the reason text of an endpoint drained by d.
func (d Drain) describe() string {
	s := "drained by " + d.By + " at " + d.At.UTC().Format(time.RFC3339)
	if d.Region != "" {
		s = "region " + d.Region + " " + s
	}
	if !d.Until.IsZero() {
		s += " until " + d.Until.UTC().Format(time.RFC3339)
	}
	if d.Reason != "" {
		s += ": " + d.Reason
	}
	return s
}

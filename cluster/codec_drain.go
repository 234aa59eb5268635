package cluster

import (
	"encoding/binary"

	"github.com/gslbd/gslbd/gslb"
)

// Drain flags. A drain of one endpoint with no window and no reason is
// written exactly as before region drains and maintenance windows
// existed (flags 0 or 1), so older nodes keep decoding the common case.
// A record with drainFlagExt carries, after By, the window (From, Until
// as times) and the operator's reason; drainFlagRegion (which needs
// drainFlagExt) makes the first string a region instead of an endpoint.
// An older node drops such a record as malformed (unknown flags): it
// cannot apply a window it does not understand, and the newest record
// still reaches it once it is upgraded (push/pull).
const (
	drainFlagDrained byte = 1 << 0
	drainFlagExt     byte = 1 << 1
	drainFlagRegion  byte = 1 << 2
	drainFlagsKnown       = drainFlagDrained | drainFlagExt | drainFlagRegion
)

// drainExtended reports whether d needs the extension.
func drainExtended(d gslb.Drain) bool {
	return d.Region != "" || !d.From.IsZero() || !d.Until.IsZero() || d.Reason != ""
}

func appendDrainExt(b []byte, d gslb.Drain) []byte {
	b = binary.AppendVarint(b, timeNanos(d.From))
	b = binary.AppendVarint(b, timeNanos(d.Until))
	return appendString(b, truncateUTF8(d.Reason, maxReasonLen))
}

func (r *reader) drainExt(d *gslb.Drain) {
	d.From = nanosTime(r.varint())
	d.Until = nanosTime(r.varint())
	d.Reason = r.string("reason", maxReasonLen)
	if r.err == nil && !d.From.IsZero() && !d.Until.IsZero() && !d.Until.After(d.From) {
		r.fail("drain window ends before it starts")
	}
}

package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gslbd/gslbd/gslb"
)

// Wire format. Every gossip payload starts with a protocol version byte and
// a message type byte; the rest is a sequence of fields in a fixed order:
// strings are a uvarint length followed by the bytes, integers are
// (u)varints, times are Unix nanoseconds as a varint (0 is the zero time).
// A decoder never trusts a length: every one is checked against the bytes
// that remain, and trailing bytes make the message malformed.
//
// Version 2 replaced version 1's NextChange field with flag bits (Failed,
// Transition) and its clock-ordered write-active records with term-ordered
// write records; a node drops the other version's messages (counted as
// "version"), so upgrade every node of a cluster together.
//
// Version 3 keeps version 2's layout but an observation names a probe
// target (config.ProbeID), shared by every endpoint that probes alike,
// where version 2 named an endpoint: the two cannot be mixed, so version
// 2 messages are dropped as well.
const (
	protoVersion byte = 3

	msgObservation byte = 1 // one Observation (gossip)
	msgDrain       byte = 2 // one Drain (gossip)
	msgState       byte = 3 // the full table (push/pull)
	msgWrite       byte = 4 // one write record (gslb.WriteActive, gossip)
)

// Observation flag bits.
const (
	obsLagKnown   byte = 1 << 0
	obsFailed     byte = 1 << 1
	obsTransition byte = 1 << 2
	obsAllFlags        = obsLagKnown | obsFailed | obsTransition
)

// Field limits. They keep one broadcast well under memberlist's UDP budget
// and bound what a decoder allocates for a hostile length.
const (
	maxNodeLen     = 255
	maxEndpointLen = 512
	maxTargetLen   = 512
	maxReasonLen   = 256
	maxByLen       = 255
	// maxGSLBNameLen fits any DNS name in presentation form (253 + dot).
	maxGSLBNameLen = 255
	maxRegionLen   = 255
	// maxBackers bounds the members named in one write record.
	maxBackers = 32
)

// Drop reasons, the label values of gslbd_cluster_messages_dropped_total.
const (
	dropVersion   = "version"   // unknown protocol version
	dropType      = "type"      // unknown or misplaced message type
	dropMalformed = "malformed" // garbage, truncated, out-of-range field
	dropOld       = "old"       // Seq, drain time or write term not newer than what we hold: replay or older copy
	dropNoQuorum  = "no_quorum" // a write record whose backers are no majority of the cluster
	dropFuture    = "future"    // timestamp more than maxSkew ahead of our clock
	dropUnknown   = "unknown_endpoint"
)

// Errors from decode, mapped to drop reasons by dropReason.
var (
	errVersion   = errors.New("cluster: unknown protocol version")
	errType      = errors.New("cluster: unknown message type")
	errMalformed = errors.New("cluster: malformed message")
)

func dropReason(err error) string {
	switch {
	case errors.Is(err, errVersion):
		return dropVersion
	case errors.Is(err, errType):
		return dropType
	default:
		return dropMalformed
	}
}

// typeName is the label value of a message type in metrics.
func typeName(t byte) string {
	switch t {
	case msgObservation:
		return "observation"
	case msgDrain:
		return "drain"
	case msgState:
		return "state"
	case msgWrite:
		return "write"
	default:
		return "unknown"
	}
}

// message is one decoded gossip payload; exactly the fields of Type are set.
type message struct {
	Type   byte
	Obs    gslb.Observation   // msgObservation
	Drain  gslb.Drain         // msgDrain
	State  []gslb.Observation // msgState
	Drains []gslb.Drain       // msgState
	Write  gslb.WriteActive   // msgWrite
	Writes []gslb.WriteActive // msgState
}

func encodeObservation(o gslb.Observation) ([]byte, error) {
	b := make([]byte, 0, 64+len(o.Node)+len(o.Target)+len(o.Reason))
	b = append(b, protoVersion, msgObservation)
	return appendObservation(b, o)
}

func encodeDrain(d gslb.Drain) ([]byte, error) {
	b := make([]byte, 0, 32+len(d.Endpoint)+len(d.By))
	b = append(b, protoVersion, msgDrain)
	return appendDrain(b, d)
}

func encodeWrite(a gslb.WriteActive) ([]byte, error) {
	b := make([]byte, 0, 64+len(a.Name)+len(a.Region)+len(a.From)+len(a.Reason)+16*len(a.Backers))
	b = append(b, protoVersion, msgWrite)
	return appendWrite(b, a)
}

func encodeState(obs []gslb.Observation, drains []gslb.Drain, writes []gslb.WriteActive) ([]byte, error) {
	b := make([]byte, 0, 64*(len(obs)+len(drains)+len(writes))+8)
	b = append(b, protoVersion, msgState)
	b = binary.AppendUvarint(b, uint64(len(obs)))
	var err error
	for _, o := range obs {
		if b, err = appendObservation(b, o); err != nil {
			return nil, err
		}
	}
	b = binary.AppendUvarint(b, uint64(len(drains)))
	for _, d := range drains {
		if b, err = appendDrain(b, d); err != nil {
			return nil, err
		}
	}
	b = binary.AppendUvarint(b, uint64(len(writes)))
	for _, a := range writes {
		if b, err = appendWrite(b, a); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func appendObservation(b []byte, o gslb.Observation) ([]byte, error) {
	if err := checkName("node", o.Node, maxNodeLen); err != nil {
		return nil, err
	}
	if err := checkName("target", o.Target, maxTargetLen); err != nil {
		return nil, err
	}
	if !validObservedState(o.State) {
		return nil, fmt.Errorf("cluster: observation of %s has state %s", o.Target, o.State)
	}
	b = appendString(b, o.Node)
	b = appendString(b, o.Target)
	b = append(b, byte(o.State))
	var flags byte
	if o.LagKnown {
		flags |= obsLagKnown
	}
	if o.Failed {
		flags |= obsFailed
	}
	if o.Transition {
		flags |= obsTransition
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, o.Seq)
	b = binary.AppendVarint(b, timeNanos(o.ObservedAt))
	b = binary.AppendVarint(b, timeNanos(o.Since))
	b = binary.AppendVarint(b, int64(o.Lag))
	b = appendString(b, truncateUTF8(o.Reason, maxReasonLen))
	return b, nil
}

func appendDrain(b []byte, d gslb.Drain) ([]byte, error) {
	target, limit, what := d.Endpoint, maxEndpointLen, "endpoint"
	if d.Region != "" {
		target, limit, what = d.Region, maxRegionLen, "region"
		if d.Endpoint != "" {
			return nil, fmt.Errorf("cluster: drain of region %s also names endpoint %s", d.Region, d.Endpoint)
		}
	}
	if err := checkName(what, target, limit); err != nil {
		return nil, err
	}
	if len(d.By) > maxByLen {
		return nil, fmt.Errorf("cluster: drain author %q longer than %d bytes", d.By, maxByLen)
	}
	b = appendString(b, target)
	var flags byte
	if d.Drained {
		flags |= drainFlagDrained
	}
	ext := drainExtended(d)
	if ext {
		flags |= drainFlagExt
	}
	if d.Region != "" {
		flags |= drainFlagRegion
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, timeNanos(d.At))
	b = appendString(b, d.By)
	if ext {
		b = appendDrainExt(b, d)
	}
	return b, nil
}

func appendWrite(b []byte, a gslb.WriteActive) ([]byte, error) {
	if err := checkName("write name", a.Name, maxGSLBNameLen); err != nil {
		return nil, err
	}
	if err := checkName("region", a.Region, maxRegionLen); err != nil {
		return nil, err
	}
	if len(a.From) > maxRegionLen {
		return nil, fmt.Errorf("cluster: write record region %q longer than %d bytes", a.From, maxRegionLen)
	}
	if err := checkName("write record proposer", a.By, maxByLen); err != nil {
		return nil, err
	}
	if a.Term == 0 || len(a.Backers) == 0 || len(a.Backers) > maxBackers {
		return nil, fmt.Errorf("cluster: write record of %s: term %d with %d backers", a.Name, a.Term, len(a.Backers))
	}
	b = appendString(b, a.Name)
	b = binary.AppendUvarint(b, a.Term)
	b = appendString(b, a.Region)
	b = appendString(b, a.From)
	b = appendString(b, a.By)
	b = binary.AppendUvarint(b, uint64(len(a.Backers)))
	for _, m := range a.Backers {
		if err := checkName("backer", m, maxNodeLen); err != nil {
			return nil, err
		}
		b = appendString(b, m)
	}
	b = appendString(b, truncateUTF8(a.Reason, maxReasonLen))
	var flags byte
	if a.LagKnown {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, int64(a.Lag))
	b = binary.AppendVarint(b, int64(a.Detection))
	b = binary.AppendVarint(b, timeNanos(a.At))
	return b, nil
}

func checkName(what, v string, limit int) error {
	if v == "" {
		return fmt.Errorf("cluster: empty %s", what)
	}
	if len(v) > limit {
		return fmt.Errorf("cluster: %s %.40q... longer than %d bytes", what, v, limit)
	}
	return nil
}

// validObservedState: a prober reports Unknown, Down, Recovering or Ready;
// Drained is an operator state carried by Drain records only.
func validObservedState(s gslb.State) bool { return s <= gslb.Ready }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune, so a
// long probe error never makes an observation too big to gossip.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func timeNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanosTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decode parses one payload. It never panics and never allocates more
// than the payload's size suggests.
func decode(buf []byte) (message, error) {
	if len(buf) < 2 {
		return message{}, fmt.Errorf("%w: %d bytes", errMalformed, len(buf))
	}
	if buf[0] != protoVersion {
		return message{}, fmt.Errorf("%w %d", errVersion, buf[0])
	}
	r := reader{b: buf[2:]}
	m := message{Type: buf[1]}
	switch m.Type {
	case msgObservation:
		m.Obs = r.observation()
	case msgDrain:
		m.Drain = r.drain()
	case msgWrite:
		m.Write = r.write()
	case msgState:
		// Each record takes at least 8 bytes, so a count larger than
		// that bound is a lie and we refuse it before allocating.
		n := r.count(8)
		if n > 0 {
			m.State = make([]gslb.Observation, 0, n)
		}
		for i := 0; i < n && r.err == nil; i++ {
			m.State = append(m.State, r.observation())
		}
		n = r.count(4)
		if n > 0 {
			m.Drains = make([]gslb.Drain, 0, n)
		}
		for i := 0; i < n && r.err == nil; i++ {
			m.Drains = append(m.Drains, r.drain())
		}
		// A write record is at least 12 bytes: name, region and proposer
		// of one byte with their lengths, term, one backer, flags, times.
		n = r.count(12)
		if n > 0 {
			m.Writes = make([]gslb.WriteActive, 0, n)
		}
		for i := 0; i < n && r.err == nil; i++ {
			m.Writes = append(m.Writes, r.write())
		}
	default:
		return message{}, fmt.Errorf("%w %d", errType, m.Type)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return message{}, r.err
	}
	return m, nil
}

// reader consumes fields; after the first error every read returns a zero
// value and the error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) count(minSize int) int {
	v := r.uvarint()
	if r.err != nil {
		return 0
	}
	if v > uint64(len(r.b)/minSize) {
		r.fail("count %d exceeds remaining %d bytes", v, len(r.b))
		return 0
	}
	return int(v)
}

func (r *reader) string(what string, limit int) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(limit) {
		r.fail("%s length %d over limit %d", what, n, limit)
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail("%s truncated", what)
		return ""
	}
	s := string(r.b[:n]) // copies: memberlist reuses its buffers
	r.b = r.b[n:]
	if !utf8.ValidString(s) {
		r.fail("%s is not UTF-8", what)
		return ""
	}
	return s
}

func (r *reader) observation() gslb.Observation {
	var o gslb.Observation
	o.Node = r.string("node", maxNodeLen)
	o.Target = r.string("target", maxTargetLen)
	o.State = gslb.State(r.byte())
	flags := r.byte()
	o.LagKnown = flags&obsLagKnown != 0
	o.Failed = flags&obsFailed != 0
	o.Transition = flags&obsTransition != 0
	o.Seq = r.uvarint()
	o.ObservedAt = nanosTime(r.varint())
	o.Since = nanosTime(r.varint())
	o.Lag = time.Duration(r.varint())
	o.Reason = r.string("reason", maxReasonLen)
	if r.err != nil {
		return gslb.Observation{}
	}
	switch {
	case o.Node == "" || o.Target == "":
		r.fail("empty node or target")
	case !validObservedState(o.State):
		r.fail("state %d", o.State)
	case flags&^obsAllFlags != 0:
		r.fail("unknown flags %#x", flags)
	case o.Lag < 0:
		r.fail("negative duration")
	}
	return o
}

func (r *reader) drain() gslb.Drain {
	var d gslb.Drain
	target := r.string("endpoint", maxEndpointLen)
	flags := r.byte()
	d.Drained = flags&drainFlagDrained != 0
	d.At = nanosTime(r.varint())
	d.By = r.string("by", maxByLen)
	if flags&drainFlagExt != 0 {
		r.drainExt(&d)
	}
	if r.err != nil {
		return gslb.Drain{}
	}
	switch {
	case target == "":
		r.fail("empty endpoint")
	case flags&^drainFlagsKnown != 0:
		r.fail("unknown flags %#x", flags)
	case flags&drainFlagRegion != 0 && flags&drainFlagExt == 0:
		r.fail("region drain without its extension")
	case flags&drainFlagRegion != 0 && len(target) > maxRegionLen:
		r.fail("region longer than %d bytes", maxRegionLen)
	case d.At.IsZero():
		r.fail("drain without time")
	}
	if flags&drainFlagRegion != 0 {
		d.Region = target
	} else {
		d.Endpoint = target
	}
	return d
}

func (r *reader) write() gslb.WriteActive {
	var a gslb.WriteActive
	a.Name = r.string("write name", maxGSLBNameLen)
	a.Term = r.uvarint()
	a.Region = r.string("region", maxRegionLen)
	a.From = r.string("from", maxRegionLen)
	a.By = r.string("by", maxByLen)
	n := r.uvarint()
	if r.err == nil && n > maxBackers {
		r.fail("%d backers over limit %d", n, maxBackers)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		if m := r.string("backer", maxNodeLen); m != "" {
			a.Backers = append(a.Backers, m)
		} else {
			r.fail("empty backer")
		}
	}
	a.Reason = r.string("reason", maxReasonLen)
	flags := r.byte()
	a.LagKnown = flags&1 != 0
	a.Lag = time.Duration(r.varint())
	a.Detection = time.Duration(r.varint())
	a.At = nanosTime(r.varint())
	if r.err != nil {
		return gslb.WriteActive{}
	}
	switch {
	case a.Name == "" || a.Region == "" || a.By == "":
		r.fail("empty write name, region or proposer")
	case a.Term == 0:
		r.fail("write record without a term")
	case n == 0:
		r.fail("write record without backers")
	case flags&^1 != 0:
		r.fail("unknown flags %#x", flags)
	case a.Lag < 0 || a.Detection < 0:
		r.fail("negative duration")
	}
	return a
}

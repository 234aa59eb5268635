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
// msgState ends with an optional section of write-active records (count,
// then records), written only when there are any: a state without them is
// byte for byte what nodes from before write-active records send and
// accept, so they keep syncing with newer nodes until the first failover.
const (
	protoVersion byte = 1

	msgObservation byte = 1 // one Observation (gossip)
	msgDrain       byte = 2 // one Drain (gossip)
	msgState       byte = 3 // the full table (push/pull)
	msgActive      byte = 4 // one WriteActive (gossip)
)

// Field limits. They keep one broadcast well under memberlist's UDP budget
// and bound what a decoder allocates for a hostile length.
const (
	maxNodeLen     = 255
	maxEndpointLen = 512
	maxReasonLen   = 256
	maxByLen       = 255
	// maxGSLBNameLen fits any DNS name in presentation form (253 + dot).
	maxGSLBNameLen = 255
	maxRegionLen   = 255
)

// Drop reasons, the label values of gslbd_cluster_messages_dropped_total.
const (
	dropVersion   = "version"   // unknown protocol version
	dropType      = "type"      // unknown or misplaced message type
	dropMalformed = "malformed" // garbage, truncated, out-of-range field
	dropOld       = "old"       // Seq (or drain/active time) not newer than what we hold: replay or older copy
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
	case msgActive:
		return "active"
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
	Active gslb.WriteActive   // msgActive
	// Actives: msgState's optional section (nil when absent or empty).
	Actives []gslb.WriteActive
}

func encodeObservation(o gslb.Observation) ([]byte, error) {
	b := make([]byte, 0, 64+len(o.Node)+len(o.Endpoint)+len(o.Reason))
	b = append(b, protoVersion, msgObservation)
	return appendObservation(b, o)
}

func encodeDrain(d gslb.Drain) ([]byte, error) {
	b := make([]byte, 0, 32+len(d.Endpoint)+len(d.By))
	b = append(b, protoVersion, msgDrain)
	return appendDrain(b, d)
}

func encodeActive(a gslb.WriteActive) ([]byte, error) {
	b := make([]byte, 0, 16+len(a.Name)+len(a.Region)+len(a.By))
	b = append(b, protoVersion, msgActive)
	return appendActive(b, a)
}

func encodeState(obs []gslb.Observation, drains []gslb.Drain, actives []gslb.WriteActive) ([]byte, error) {
	b := make([]byte, 0, 64*(len(obs)+len(drains)+len(actives))+8)
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
	if len(actives) == 0 {
		return b, nil // the section is optional (see msgState)
	}
	b = binary.AppendUvarint(b, uint64(len(actives)))
	for _, a := range actives {
		if b, err = appendActive(b, a); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func appendObservation(b []byte, o gslb.Observation) ([]byte, error) {
	if err := checkName("node", o.Node, maxNodeLen); err != nil {
		return nil, err
	}
	if err := checkName("endpoint", o.Endpoint, maxEndpointLen); err != nil {
		return nil, err
	}
	if !validObservedState(o.State) {
		return nil, fmt.Errorf("cluster: observation of %s has state %s", o.Endpoint, o.State)
	}
	b = appendString(b, o.Node)
	b = appendString(b, o.Endpoint)
	b = append(b, byte(o.State))
	var flags byte
	if o.LagKnown {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, o.Seq)
	b = binary.AppendVarint(b, timeNanos(o.ObservedAt))
	b = binary.AppendVarint(b, timeNanos(o.Since))
	b = binary.AppendVarint(b, int64(o.Lag))
	b = binary.AppendVarint(b, int64(o.NextChange))
	b = appendString(b, truncateUTF8(o.Reason, maxReasonLen))
	return b, nil
}

func appendDrain(b []byte, d gslb.Drain) ([]byte, error) {
	if err := checkName("endpoint", d.Endpoint, maxEndpointLen); err != nil {
		return nil, err
	}
	if len(d.By) > maxByLen {
		return nil, fmt.Errorf("cluster: drain author %q longer than %d bytes", d.By, maxByLen)
	}
	b = appendString(b, d.Endpoint)
	var flags byte
	if d.Drained {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, timeNanos(d.At))
	b = appendString(b, d.By)
	return b, nil
}

func appendActive(b []byte, a gslb.WriteActive) ([]byte, error) {
	if err := checkName("write name", a.Name, maxGSLBNameLen); err != nil {
		return nil, err
	}
	if err := checkName("region", a.Region, maxRegionLen); err != nil {
		return nil, err
	}
	if len(a.By) > maxByLen {
		return nil, fmt.Errorf("cluster: write-active author %q longer than %d bytes", a.By, maxByLen)
	}
	if a.At.IsZero() {
		return nil, fmt.Errorf("cluster: write-active record of %s without time", a.Name)
	}
	b = appendString(b, a.Name)
	b = appendString(b, a.Region)
	b = binary.AppendVarint(b, timeNanos(a.At))
	b = appendString(b, a.By)
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
	case msgActive:
		m.Active = r.active()
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
		if r.err == nil && len(r.b) > 0 {
			// A record is at least 6 bytes: name and region of one byte
			// with their lengths, a non-zero time, an empty By.
			n = r.count(6)
			if n > 0 {
				m.Actives = make([]gslb.WriteActive, 0, n)
			}
			for i := 0; i < n && r.err == nil; i++ {
				m.Actives = append(m.Actives, r.active())
			}
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
	o.Endpoint = r.string("endpoint", maxEndpointLen)
	o.State = gslb.State(r.byte())
	flags := r.byte()
	o.LagKnown = flags&1 != 0
	o.Seq = r.uvarint()
	o.ObservedAt = nanosTime(r.varint())
	o.Since = nanosTime(r.varint())
	o.Lag = time.Duration(r.varint())
	o.NextChange = time.Duration(r.varint())
	o.Reason = r.string("reason", maxReasonLen)
	if r.err != nil {
		return gslb.Observation{}
	}
	switch {
	case o.Node == "" || o.Endpoint == "":
		r.fail("empty node or endpoint")
	case !validObservedState(o.State):
		r.fail("state %d", o.State)
	case flags&^1 != 0:
		r.fail("unknown flags %#x", flags)
	case o.Lag < 0 || o.NextChange < 0:
		r.fail("negative duration")
	}
	return o
}

func (r *reader) drain() gslb.Drain {
	var d gslb.Drain
	d.Endpoint = r.string("endpoint", maxEndpointLen)
	flags := r.byte()
	d.Drained = flags&1 != 0
	d.At = nanosTime(r.varint())
	d.By = r.string("by", maxByLen)
	if r.err != nil {
		return gslb.Drain{}
	}
	switch {
	case d.Endpoint == "":
		r.fail("empty endpoint")
	case flags&^1 != 0:
		r.fail("unknown flags %#x", flags)
	case d.At.IsZero():
		r.fail("drain without time")
	}
	return d
}

func (r *reader) active() gslb.WriteActive {
	var a gslb.WriteActive
	a.Name = r.string("write name", maxGSLBNameLen)
	a.Region = r.string("region", maxRegionLen)
	a.At = nanosTime(r.varint())
	a.By = r.string("by", maxByLen)
	if r.err != nil {
		return gslb.WriteActive{}
	}
	switch {
	case a.Name == "" || a.Region == "":
		r.fail("empty write name or region")
	case a.At.IsZero():
		r.fail("write-active record without time")
	}
	return a
}

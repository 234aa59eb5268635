package gslb

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/gslbd/gslbd/config"
)

// Change kinds. The first three are the hook event kinds of the config
// (hooks[].on); ChangeAdmin is an operator's API call, recorded in the
// audit log only.
const (
	ChangeWritePrimary  = config.HookWritePrimary
	ChangeEndpointState = config.HookEndpointState
	ChangeRegionDrain   = config.HookRegionDrain
	ChangeAdmin         = "admin"
)

// Change is one operational event: a write name's active region moved,
// an endpoint's agreed state changed, a region was drained, or an
// operator acted through the API. Failover hooks deliver it and the audit
// log records it; only the fields of its Kind are set.
type Change struct {
	// ID is the idempotency key: derived from the content, the same for
	// every delivery attempt, so a receiver can drop repeats.
	ID   string    `json:"id"`
	Kind string    `json:"kind"`
	At   time.Time `json:"at"` // when the change was decided
	// Node is the gslbd node that made the change (and delivers it).
	Node string `json:"node"`
	// Name is the GSLB name (write_primary, endpoint_state).
	Name     string `json:"name,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// Region is the endpoint's region (endpoint_state) or the drained
	// region (region_drain).
	Region string `json:"region,omitempty"`
	// From and To are regions for write_primary, states for
	// endpoint_state; To is "drained" or "undrained" for region_drain.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Term is the write record's term (write_primary).
	Term   uint64 `json:"term,omitempty"`
	Reason string `json:"reason,omitempty"`
	// LagSeconds is the new primary's agreed replication lag at the change
	// (write_primary), or the endpoint's (endpoint_state), if known.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// WindowFrom and WindowUntil are a region drain's maintenance window.
	WindowFrom  time.Time `json:"window_from,omitzero"`
	WindowUntil time.Time `json:"window_until,omitzero"`
	// Who, Action and Result describe an admin change: who (the admin
	// token, or "anonymous"), from which Remote address, what was asked
	// ("drain eu-west@app.gslb.test") and how it ended ("ok", "401 ...").
	Who    string `json:"who,omitempty"`
	Remote string `json:"remote,omitempty"`
	Action string `json:"action,omitempty"`
	Result string `json:"result,omitempty"`
}

// WithID returns c with ID set from its content (unless already set).
func (c Change) WithID() Change {
	if c.ID != "" {
		return c
	}
	h := sha256.New()
	for _, s := range []string{c.Kind, c.Node, strconv.FormatInt(c.At.UnixNano(), 10), c.Name, c.Endpoint,
		c.Region, c.From, c.To, strconv.FormatUint(c.Term, 10), c.Action} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	c.ID = hex.EncodeToString(h.Sum(nil)[:16])
	return c
}

// Lag returns a lag as LagSeconds wants it (nil when unknown).
func Lag(d time.Duration, known bool) *float64 {
	if !known {
		return nil
	}
	s := d.Seconds()
	return &s
}

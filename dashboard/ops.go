package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/gslb"
)

// Audit records admin actions and lists the newest entries; *audit.Log
// satisfies it.
type Audit interface {
	Write(gslb.Change) error
	Recent(n int) []gslb.Change
}

// maxDrainReason bounds an operator's reason (it is gossiped).
const maxDrainReason = 256

// DrainRequest is the optional body of the drain and undrain routes, for
// endpoints and regions. From and Until (RFC 3339) make the drain a
// maintenance window: it takes effect at From (now if absent) and ends by
// itself at Until (never if absent).
type DrainRequest struct {
	Reason string     `json:"reason"`
	From   *time.Time `json:"from"`
	Until  *time.Time `json:"until"`
}

// parseDrainRequest reads an optional DrainRequest; an empty body is a
// plain drain.
func parseDrainRequest(w http.ResponseWriter, r *http.Request, now time.Time) (DrainRequest, error) {
	var req DrainRequest
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return req, fmt.Errorf("reading the body: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf(`bad JSON body (want {"reason": "...", "from": "RFC 3339 time", "until": "RFC 3339 time"}, all optional): %w`, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, errors.New("bad JSON body: trailing data after the object")
	}
	switch {
	case len(req.Reason) > maxDrainReason || !utf8.ValidString(req.Reason):
		return req, fmt.Errorf("reason must be UTF-8 of at most %d bytes", maxDrainReason)
	case req.From != nil && req.Until != nil && !req.Until.After(*req.From):
		return req, errors.New("until must be after from")
	case req.Until != nil && !req.Until.After(now):
		return req, fmt.Errorf("until %s is not in the future", req.Until.UTC().Format(time.RFC3339))
	}
	return req, nil
}

// drainFor builds the record an admin route hands to Options.Drain.
func drainFor(req DrainRequest, drained bool) gslb.Drain {
	d := gslb.Drain{Drained: drained, Reason: strings.TrimSpace(req.Reason)}
	if drained && req.From != nil {
		d.From = req.From.UTC()
	}
	if drained && req.Until != nil {
		d.Until = req.Until.UTC()
	}
	return d
}

// RegionDrainResponse answers a region drain or undrain.
type RegionDrainResponse struct {
	Region  string `json:"region"`
	Drained bool   `json:"drained"`
	// Status is "drained" (in effect now), "scheduled" (From ahead) or
	// "undrained".
	Status gslb.DrainStatus `json:"status"`
	From   *time.Time       `json:"from,omitempty"`
	Until  *time.Time       `json:"until,omitempty"`
	Reason string           `json:"reason,omitempty"`
	// Endpoints lists the endpoint IDs of the region, every name.
	Endpoints []string `json:"endpoints"`
}

func (s *server) handleRegionDrain(drained bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		region := r.PathValue("region")
		d, snap, now, ok := s.applyDrain(w, r, drained, drainTarget{
			kind: "region", name: region,
			known: func(snap *gslb.Snapshot) bool {
				for _, rg := range snap.Regions() {
					if rg.Name == region {
						return true
					}
				}
				return false
			},
			set: func(d *gslb.Drain) { d.Region = region },
		})
		if !ok {
			return
		}
		resp := RegionDrainResponse{Region: region, Drained: drained, Status: d.StatusAt(now),
			From: timePtr(d.From), Until: timePtr(d.Until), Reason: d.Reason, Endpoints: []string{}}
		for _, ep := range snap.Endpoints() {
			if ep.Region == region {
				resp.Endpoints = append(resp.Endpoints, ep.ID)
			}
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// drainTarget is what a drain request names: one endpoint or one region.
type drainTarget struct {
	kind  string // "endpoint" or "region": the log field and the error text
	name  string
	known func(*gslb.Snapshot) bool
	set   func(*gslb.Drain)
}

// applyDrain runs what endpoint and region drains share, so the two cannot
// drift apart in how they authorize, validate and report: the token, the
// target's existence, the body, and the hand-over to the cluster. It writes
// the error reply itself; ok is false when the request ends there.
func (s *server) applyDrain(w http.ResponseWriter, r *http.Request, drained bool, t drainTarget) (d gslb.Drain, snap *gslb.Snapshot, now time.Time, ok bool) {
	action := "undrain"
	if drained {
		action = "drain"
	}
	if !s.authorize(w, r) {
		return d, nil, now, false
	}
	if snap = s.snapshot(w); snap == nil {
		return d, nil, now, false
	}
	if !t.known(snap) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown %s %q (see /api/v1/state)", t.kind, t.name))
		return d, nil, now, false
	}
	now = time.Now()
	req, err := parseDrainRequest(w, r, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return d, nil, now, false
	}
	if s.o.Drain == nil {
		writeError(w, http.StatusNotImplemented, action+" is not available on this node")
		return d, nil, now, false
	}
	d = drainFor(req, drained)
	t.set(&d)
	if err := s.o.Drain(d); err != nil {
		switch {
		case errors.Is(err, ErrUnknownEndpoint):
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown %s %q", t.kind, t.name))
		case errors.Is(err, ErrInvalid):
			writeError(w, http.StatusBadRequest, action+" refused: "+err.Error())
		default:
			s.log.Error("admin action failed", zap.String("action", action), zap.String(t.kind, t.name), zap.Error(err))
			writeError(w, http.StatusInternalServerError, action+" failed: "+err.Error())
		}
		return d, nil, now, false
	}
	s.log.Info("admin action", zap.String("action", action), zap.String(t.kind, t.name),
		zap.String("status", string(d.StatusAt(now))), zap.String("remote", r.RemoteAddr))
	return d, snap, now, true
}

// DrainRow is one drain record with its status now, in
// /api/v1/state's "drains".
type DrainRow struct {
	gslb.Drain
	Status gslb.DrainStatus `json:"status"`
}

// drainRows lists every region drain and every endpoint drain record of
// snap, regions first, with their status at now.
func drainRows(snap *gslb.Snapshot, now time.Time) []DrainRow {
	out := []DrainRow{}
	v := snap.View()
	regions := make([]string, 0, len(v.RegionDrains))
	for r := range v.RegionDrains {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, r := range regions {
		d := v.RegionDrains[r]
		out = append(out, DrainRow{Drain: d, Status: d.StatusAt(now)})
	}
	for _, ep := range snap.Endpoints() {
		if d := ep.State.Drain; d != nil {
			out = append(out, DrainRow{Drain: *d, Status: d.StatusAt(now)})
		}
	}
	return out
}

// handleAudit lists the newest audit entries, newest last:
// GET /api/v1/audit?limit=N (default 100, at most 500).
func (s *server) handleAudit(w http.ResponseWriter, r *http.Request) {
	if s.o.Audit == nil {
		writeError(w, http.StatusNotFound, "no audit log on this node (set audit_log.path)")
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 500")
			return
		}
		limit = n
	}
	entries := s.o.Audit.Recent(limit)
	if entries == nil {
		entries = []gslb.Change{}
	}
	writeJSON(w, http.StatusOK, entries)
}

// maxAuditBody bounds the request body quoted in an audit entry.
const maxAuditBody = 512

// audited records every call of an admin route in the audit log: who (the
// admin token, or "anonymous" when it was refused), from where, what
// (method, path and the body sent) and the result (the status, with the
// error text when it failed).
func (s *server) audited(h http.HandlerFunc) http.HandlerFunc {
	if s.o.Audit == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec := &capture{ResponseWriter: w}
		h(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		who := "admin token"
		if code == http.StatusUnauthorized || code == http.StatusForbidden {
			who = "anonymous"
		}
		action := r.Method + " " + r.URL.Path
		if b := bytes.TrimSpace(body); len(b) > 0 {
			action += " " + truncate(string(b), maxAuditBody)
		}
		result := "ok"
		if code/100 != 2 {
			result = strconv.Itoa(code) + " " + http.StatusText(code)
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(rec.body.Bytes(), &e) == nil && e.Error != "" {
				result += ": " + e.Error
			}
		}
		node := ""
		if snap := s.o.Source.Load(); snap != nil {
			node = snap.NodeName()
		}
		c := gslb.Change{Kind: gslb.ChangeAdmin, At: time.Now().UTC(), Node: node, Who: who,
			Remote: r.RemoteAddr, Action: action, Result: result}
		if err := s.o.Audit.Write(c); err != nil {
			s.log.Error("audit log write failed; the action stands", zap.String("action", action), zap.Error(err))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// capture keeps the status code and the start of the body of a response
// (for the audit entry of an admin action).
type capture struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (c *capture) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	if room := 4096 - c.body.Len(); room > 0 {
		c.body.Write(b[:min(room, len(b))])
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

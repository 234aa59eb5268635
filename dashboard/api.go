package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/gslb"
)

// StateResponse is the body of GET /api/v1/state. Field names are part of
// the documented, stable API.
type StateResponse struct {
	Node       string `json:"node"`
	ConfigHash string `json:"config_hash"`
	// ConfigSource is the file the config was read from.
	ConfigSource string    `json:"config_source,omitempty"`
	BuiltAt      time.Time `json:"built_at"`
	// Now is the server's clock when the answer was made; the page uses it
	// to show ages without trusting the browser's clock.
	Now time.Time `json:"now"`
	// Ready is true when /readyz would answer 200; Gates lists what is not.
	Ready bool     `json:"ready"`
	Gates []string `json:"gates"`
	// Cluster is whatever Options.Cluster returned (null without it).
	Cluster any `json:"cluster"`
	// Reload is whatever Options.Reload returned (null without it or
	// before the first reload).
	Reload    any           `json:"reload"`
	View      ViewSummary   `json:"view"`
	Regions   []RegionInfo  `json:"regions"`
	Endpoints []EndpointRow `json:"endpoints"`
	// Events are recent agreed state changes, newest last.
	Events []EventRow `json:"events"`
	// Writes is every write name's record in force and this node's view
	// of it; WriteHistory the records this node saw come into force
	// (failovers, failbacks, operator moves), oldest first.
	Writes       []gslb.WriteInfo   `json:"writes"`
	WriteHistory []gslb.WriteActive `json:"write_history"`
	// Drains lists every drain record (regions first) with its status
	// now: drained, scheduled, ended or undrained.
	Drains []DrainRow `json:"drains"`
}

// ViewSummary is the cluster-level part of the agreed View.
type ViewSummary struct {
	Self          string        `json:"self"`
	Members       []gslb.Member `json:"members"`
	Isolated      bool          `json:"isolated"`
	IsolatedSince *time.Time    `json:"isolated_since,omitempty"`
	Synced        bool          `json:"synced"`
	// Quorum: this node sees a majority of Expect members alive; without
	// it, it proposes no write change and fences write names after the
	// grace.
	Quorum        bool       `json:"quorum"`
	Expect        int        `json:"expect"`
	NoQuorumSince *time.Time `json:"no_quorum_since,omitempty"`
	At            time.Time  `json:"at"`
}

// RegionInfo is one configured region.
type RegionInfo struct {
	Name      string  `json:"name"`
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	Continent string  `json:"continent"`
}

// EndpointRow is one endpoint with its agreed state and every node's view.
type EndpointRow struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	GSLBName  string   `json:"gslb_name"`
	Zone      string   `json:"zone"`
	Region    string   `json:"region"`
	Addresses []string `json:"addresses,omitempty"`
	Target    string   `json:"target,omitempty"`
	Weight    int      `json:"weight"`
	// Probe is the endpoint's probe target ("" without probes): the
	// Observations are of it, and every endpoint with the same Probe
	// follows the same agreed state unless drained.
	Probe string `json:"probe,omitempty"`
	// Active marks the endpoint a write name currently sends to.
	Active bool       `json:"active,omitempty"`
	State  gslb.State `json:"state"`
	Stale  bool       `json:"stale"`
	Since  *time.Time `json:"since,omitempty"`
	Reason string     `json:"reason"`
	// LagSeconds is null when no lag is known.
	LagSeconds *float64 `json:"lag_seconds"`
	// Drain is the newest operator action on the endpoint, if any.
	Drain *gslb.Drain `json:"drain,omitempty"`
	// Observations has one entry per observing node, sorted by node name.
	Observations []ObservationRow `json:"observations"`
	// Differs is true when the observing nodes do not all see the same state.
	Differs bool `json:"differs"`
}

// ObservationRow is one node's latest observation of one endpoint.
type ObservationRow struct {
	Node       string     `json:"node"`
	State      gslb.State `json:"state"`
	LagSeconds *float64   `json:"lag_seconds"`
	ObservedAt time.Time  `json:"observed_at"`
	Since      *time.Time `json:"since,omitempty"`
	Reason     string     `json:"reason"`
	Seq        uint64     `json:"seq"`
}

// EventRow is one agreed state change.
type EventRow struct {
	At       time.Time  `json:"at"`
	Endpoint string     `json:"endpoint"`
	GSLBName string     `json:"gslb_name"`
	Region   string     `json:"region"`
	From     gslb.State `json:"from"`
	To       gslb.State `json:"to"`
	Reason   string     `json:"reason"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the answer failed: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers {"error": msg}; every API error has this shape.
func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func seconds(d time.Duration) *float64 {
	v := d.Seconds()
	return &v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// snapshot loads the current Snapshot or answers 503 itself.
func (s *server) snapshot(w http.ResponseWriter) *gslb.Snapshot {
	var snap *gslb.Snapshot
	if s.o.Source != nil {
		snap = s.o.Source.Load()
	}
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, "no configuration loaded yet")
	}
	return snap
}

func (s *server) handleState(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshot(w)
	if snap == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.buildState(snap, time.Now()))
}

// buildState turns a Snapshot into the API's flat, stable shape. It only
// reads the Snapshot, which is immutable, so no locking is needed.
func (s *server) buildState(snap *gslb.Snapshot, now time.Time) StateResponse {
	view := snap.View()
	resp := StateResponse{
		BuiltAt: snap.BuiltAt(),
		Now:     now,
		Gates:   s.unmetGates(),
		View: ViewSummary{
			Self:          view.Self,
			Members:       view.Members,
			Isolated:      view.Isolated,
			IsolatedSince: timePtr(view.IsolatedSince),
			Synced:        view.Synced,
			Quorum:        view.Quorum,
			Expect:        view.Expect,
			NoQuorumSince: timePtr(view.NoQuorumSince),
			At:            view.At,
		},
		Regions:      []RegionInfo{},
		Endpoints:    []EndpointRow{},
		Events:       []EventRow{},
		Writes:       snap.Writes(),
		WriteHistory: snap.WriteHistory(),
	}
	if resp.Writes == nil {
		resp.Writes = []gslb.WriteInfo{}
	}
	if resp.WriteHistory == nil {
		resp.WriteHistory = []gslb.WriteActive{}
	}
	resp.Ready = len(resp.Gates) == 0
	if resp.Gates == nil {
		resp.Gates = []string{}
	}
	if resp.View.Members == nil {
		resp.View.Members = []gslb.Member{}
	}
	resp.Node = snap.NodeName()
	resp.ConfigHash = snap.ConfigHash()
	resp.ConfigSource = snap.ConfigSource()
	for _, rg := range snap.Regions() {
		resp.Regions = append(resp.Regions, RegionInfo{Name: rg.Name, Lat: rg.Latitude, Lon: rg.Longitude, Continent: rg.Continent})
	}
	if resp.Node == "" {
		resp.Node = view.Self
	}
	if s.o.Reload != nil {
		resp.Reload = s.o.Reload()
	}
	if s.o.Cluster != nil {
		resp.Cluster = s.o.Cluster()
	}
	for _, ep := range snap.Endpoints() {
		resp.Endpoints = append(resp.Endpoints, endpointRow(ep))
	}
	for _, ev := range snap.Events() {
		resp.Events = append(resp.Events, EventRow(ev))
	}
	resp.Drains = drainRows(snap, now)
	return resp
}

func endpointRow(ep gslb.EndpointInfo) EndpointRow {
	st := ep.State
	row := EndpointRow{
		ID:           ep.ID,
		Name:         ep.Name,
		GSLBName:     ep.GSLBName,
		Zone:         ep.Zone,
		Region:       ep.Region,
		Addresses:    ep.Addresses,
		Target:       ep.Target,
		Weight:       ep.Weight,
		Probe:        st.Probe,
		Active:       ep.Active,
		State:        st.State,
		Stale:        st.Stale,
		Since:        timePtr(st.Since),
		Reason:       st.Reason,
		Drain:        st.Drain,
		Observations: []ObservationRow{},
	}
	if row.ID == "" {
		row.ID = st.ID
	}
	if st.LagKnown {
		row.LagSeconds = seconds(st.Lag)
	}
	nodes := make([]string, 0, len(st.Observers))
	for n := range st.Observers {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for i, n := range nodes {
		o := st.Observers[n]
		or := ObservationRow{
			Node:       n,
			State:      o.State,
			ObservedAt: o.ObservedAt,
			Since:      timePtr(o.Since),
			Reason:     o.Reason,
			Seq:        o.Seq,
		}
		if o.Node != "" {
			or.Node = o.Node
		}
		if o.LagKnown {
			or.LagSeconds = seconds(o.Lag)
		}
		if i > 0 && o.State != st.Observers[nodes[0]].State {
			row.Differs = true
		}
		row.Observations = append(row.Observations, or)
	}
	return row
}

func hasEndpoint(snap *gslb.Snapshot, id string) bool {
	for _, ep := range snap.Endpoints() {
		if ep.ID == id {
			return true
		}
	}
	return false
}

// qtypes are the query types explain accepts by name.
var qtypes = map[string]uint16{
	"A": gslb.TypeA, "NS": gslb.TypeNS, "CNAME": gslb.TypeCNAME, "SOA": gslb.TypeSOA,
	"MX": gslb.TypeMX, "TXT": gslb.TypeTXT, "AAAA": gslb.TypeAAAA, "SRV": gslb.TypeSRV,
	"CAA": gslb.TypeCAA, "ANY": gslb.TypeANY,
}

// parseQType accepts a type name ("AAAA"), RFC 3597 form ("TYPE28") or a
// bare number.
func parseQType(v string) (uint16, error) {
	if v == "" {
		return gslb.TypeA, nil
	}
	u := strings.ToUpper(strings.TrimSpace(v))
	if t, ok := qtypes[u]; ok {
		return t, nil
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(u, "TYPE"), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("unknown query type %q (use A, AAAA, CNAME, TXT, ... or TYPEnn)", v)
	}
	return uint16(n), nil
}

// normalizeName turns a user-typed name into the lower-case FQDN gslb
// matches, rejecting what can never be a DNS name.
func normalizeName(v string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(v))
	if n == "" {
		return "", errors.New("missing parameter name")
	}
	if !strings.HasSuffix(n, ".") {
		n += "."
	}
	if n == "." {
		return n, nil
	}
	if len(n) > 254 {
		return "", fmt.Errorf("name %q is longer than 253 characters", v)
	}
	for _, label := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if label == "" {
			return "", fmt.Errorf("name %q has an empty label", v)
		}
		if len(label) > 63 {
			return "", fmt.Errorf("name %q has a label longer than 63 characters", v)
		}
		for _, c := range label {
			if c <= ' ' || c >= 0x7f {
				return "", fmt.Errorf("name %q contains a space, control or non-ASCII character", v)
			}
		}
	}
	return n, nil
}

func (s *server) handleExplain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, err := normalizeName(q.Get("name"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	clientText := strings.TrimSpace(q.Get("client"))
	if clientText == "" {
		writeError(w, http.StatusBadRequest, "missing parameter client (an IP address)")
		return
	}
	addr, err := netip.ParseAddr(clientText)
	if err != nil || addr.Zone() != "" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("client %q is not an IP address", clientText))
		return
	}
	addr = addr.Unmap()
	qtype, err := parseQType(q.Get("type"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	snap := s.snapshot(w)
	if snap == nil {
		return
	}
	exp := snap.Explain(name, qtype, gslb.Client{Addr: addr, SourcePrefix: addr.BitLen()})
	writeJSON(w, http.StatusOK, exp)
}

// DrainResponse is the body of a successful drain or undrain. Status,
// window and reason appear when the request set them.
type DrainResponse struct {
	ID      string           `json:"id"`
	Drained bool             `json:"drained"`
	Status  gslb.DrainStatus `json:"status,omitempty"`
	From    *time.Time       `json:"from,omitempty"`
	Until   *time.Time       `json:"until,omitempty"`
	Reason  string           `json:"reason,omitempty"`
}

func (s *server) handleDrain(drained bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		d, _, now, ok := s.applyDrain(w, r, drained, drainTarget{
			kind: "endpoint", name: id,
			known: func(snap *gslb.Snapshot) bool { return hasEndpoint(snap, id) },
			set:   func(d *gslb.Drain) { d.Endpoint = id },
		})
		if !ok {
			return
		}
		resp := DrainResponse{ID: id, Drained: drained, Reason: d.Reason, From: timePtr(d.From), Until: timePtr(d.Until)}
		if !d.From.IsZero() || !d.Until.IsZero() {
			resp.Status = d.StatusAt(now)
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// ActiveRequest is the body of POST /api/v1/names/{name}/active.
type ActiveRequest struct {
	Region string `json:"region"`
}

// ActiveResponse answers a successful POST /api/v1/names/{name}/active.
type ActiveResponse struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// Note says what happens next: nodes adopt the region, or fail over
	// from it at once if it is not ready.
	Note string `json:"note"`
}

// handleSetActive is the operator's manual failback (or a planned move)
// of a write name: with failback manual, nothing else brings writes back
// to the preferred region after a failover.
func (s *server) handleSetActive(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r) {
		return
	}
	name := strings.ToLower(strings.TrimSuffix(r.PathValue("name"), ".")) + "."
	var req ActiveRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Region == "" {
		writeError(w, http.StatusBadRequest, `bad JSON body: want {"region": "<region in the name's order>"}`)
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "bad JSON body: trailing data after the object")
		return
	}
	if len(req.Region) > maxRegionLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("region name over %d bytes", maxRegionLen))
		return
	}
	snap := s.snapshot(w)
	if snap == nil {
		return
	}
	if _, _, ok := snap.ActiveRegion(name); !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%q is not a write name", name))
		return
	}
	if order := snap.RegionOrder(name); !slices.Contains(order, req.Region) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("region %q is not in the order of %s: %v", req.Region, name, order))
		return
	}
	if s.o.SetActive == nil {
		writeError(w, http.StatusNotImplemented, "setting the active region is not available on this node")
		return
	}
	if err := s.o.SetActive(name, req.Region); err != nil {
		if errors.Is(err, gslb.ErrNoQuorum) || errors.Is(err, gslb.ErrNotReady) || errors.Is(err, gslb.ErrStaleTerm) {
			// The cluster's rule refused it: say why, change nothing.
			s.log.Warn("admin action refused", zap.String("action", "set-active"), zap.String("name", name), zap.Error(err))
			writeError(w, http.StatusConflict, "set active region refused: "+err.Error())
			return
		}
		if errors.Is(err, ErrInvalid) {
			writeError(w, http.StatusBadRequest, "set active region refused: "+err.Error())
			return
		}
		s.log.Error("admin action failed", zap.String("action", "set-active"), zap.String("name", name), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "set active region failed: "+err.Error())
		return
	}
	s.log.Info("admin action", zap.String("action", "set-active"), zap.String("name", name),
		zap.String("region", req.Region), zap.String("remote", r.RemoteAddr))
	writeJSON(w, http.StatusOK, ActiveResponse{Name: name, Region: req.Region,
		Note: "accepted as the next term with a quorum; every node answers it"})
}

// DevRequest is the body of POST /api/v1/dev/regions/{region}; absent
// fields are left unchanged.
type DevRequest struct {
	Alive      *bool    `json:"alive"`
	LagSeconds *float64 `json:"lag_seconds"`
}

func (s *server) handleDevList(w http.ResponseWriter, r *http.Request) {
	regions := s.o.Dev.Regions()
	if regions == nil {
		regions = []DevRegion{}
	}
	writeJSON(w, http.StatusOK, regions)
}

func (s *server) handleDevSet(w http.ResponseWriter, r *http.Request) {
	region := r.PathValue("region")
	var req DevRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `bad JSON body (want {"alive": false} and/or {"lag_seconds": 30}): `+err.Error())
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "bad JSON body: trailing data after the object")
		return
	}
	if req.Alive == nil && req.LagSeconds == nil {
		writeError(w, http.StatusBadRequest, `nothing to set: send "alive" and/or "lag_seconds"`)
		return
	}
	if l := req.LagSeconds; l != nil && (*l < 0 || math.IsNaN(*l) || math.IsInf(*l, 0)) {
		writeError(w, http.StatusBadRequest, "lag_seconds must be a finite number >= 0")
		return
	}
	if err := s.o.Dev.SetRegion(region, req.Alive, req.LagSeconds); err != nil {
		if errors.Is(err, ErrUnknownRegion) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown region %q (see GET /api/v1/dev/regions)", region))
			return
		}
		writeError(w, http.StatusInternalServerError, "setting the simulated backend failed: "+err.Error())
		return
	}
	fields := []zap.Field{zap.String("region", region)}
	if req.Alive != nil {
		fields = append(fields, zap.Bool("alive", *req.Alive))
	}
	if req.LagSeconds != nil {
		fields = append(fields, zap.Float64("lag_seconds", *req.LagSeconds))
	}
	s.log.Info("dev backend changed", fields...)
	for _, d := range s.o.Dev.Regions() {
		if d.Region == region {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	writeJSON(w, http.StatusOK, DevRegion{Region: region})
}

package dashboard

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// Endpoint IDs of the test config.
const (
	idEU = "eu-west@www.gslb.example.com"
	idUS = "us-east@www.gslb.example.com"
	idAP = "ap-south@www.gslb.example.com"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func sec(n int) config.Duration { return config.Duration(time.Duration(n) * time.Second) }

// testConfig is a validated-looking config built in Go: lower-case FQDNs
// with trailing dots, IDs set, defaults filled, as config.Parse returns.
func testConfig() *config.Config {
	one := 1
	probe := func(region string) *config.Probe {
		return &config.Probe{Type: "http", URL: "http://127.0.0.1:1/" + region, Method: "GET",
			Interval: sec(1), Timeout: config.Duration(500 * time.Millisecond), Rise: 2, Fall: 2}
	}
	ep := func(region, addr string) config.Endpoint {
		return config.Endpoint{Name: region, Region: region, Addresses: []string{addr}, Weight: &one,
			Liveness: probe(region), ID: region + "@www.gslb.example.com", ProbeID: region + "@www.gslb.example.com"}
	}
	return &config.Config{
		Node: "node-a",
		Listen: config.Listen{DNS: []string{"127.0.0.1:5353"}, HTTP: "127.0.0.1:8053", UDPSize: 1232,
			TCPIdleTimeout: sec(10)},
		Regions: []config.Region{
			{Name: "eu-west", Latitude: 51.5, Longitude: -0.12, Continent: "EU"},
			{Name: "us-east", Latitude: 39.0, Longitude: -77.5, Continent: "NA"},
			{Name: "ap-south", Latitude: 1.35, Longitude: 103.8, Continent: "AS"},
		},
		Zones: []config.Zone{{
			Apex: "gslb.example.com.",
			TTL:  sec(300),
			SOA: config.SOA{MName: "ns1.gslb.example.com.", RName: "hostmaster.gslb.example.com.", Serial: 1,
				Refresh: sec(3600), Retry: sec(600), Expire: sec(168 * 3600), Minimum: sec(60), TTL: sec(300)},
			Nameservers: []config.Nameserver{{Name: "ns1.gslb.example.com.", Addresses: []string{"192.0.2.53"}}},
			Names: []config.Name{{
				Name: "www.gslb.example.com.", Policy: "nearest", TTL: sec(30), MinTTL: sec(5), Answers: 1,
				Role: "read", Failback: "manual", FailbackHold: sec(60), AllDown: "open",
				Endpoints: []config.Endpoint{
					ep("eu-west", "192.0.2.1"),
					ep("us-east", "192.0.2.2"),
					ep("ap-south", "192.0.2.3"),
				},
			}},
		}},
		Health:  config.HealthDefaults{Interval: sec(1), Timeout: config.Duration(500 * time.Millisecond), Rise: 2, Fall: 2, MaxLag: sec(2), Hold: sec(5)},
		Cluster: config.Cluster{Expect: 1, Quorum: "majority", StaleAfter: sec(3), IsolationHold: sec(300), Refresh: sec(1)},
		Hash:    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Source:  "test.yaml",
	}
}

func obs(node, id string, st gslb.State, lag time.Duration, lagKnown bool, reason string, seq uint64) gslb.Observation {
	return gslb.Observation{Target: id, Node: node, State: st, Lag: lag, LagKnown: lagKnown, Reason: reason,
		ObservedAt: testNow.Add(-time.Second), Since: testNow.Add(-time.Minute), Seq: seq}
}

// testView has eu-west ready everywhere, us-east down with node-b
// disagreeing, and ap-south recovering with a known lag.
func testView(euState gslb.State) gslb.View {
	// Each endpoint is its own probe target, named like it.
	es := func(id string, st gslb.State, reason string, lag time.Duration, lagKnown bool, observers ...gslb.Observation) gslb.TargetState {
		m := map[string]gslb.Observation{}
		for _, o := range observers {
			m[o.Node] = o
		}
		return gslb.TargetState{State: st, Since: testNow.Add(-time.Minute), Reason: reason,
			Lag: lag, LagKnown: lagKnown, Observers: m}
	}
	return gslb.View{
		Self:    "node-a",
		Members: []gslb.Member{{Name: "node-a", Addr: "127.0.0.1:7946", Alive: true}, {Name: "node-b", Addr: "127.0.0.1:7947", Alive: true}},
		Synced:  true,
		// Two of two alive: a quorum, start-up done.
		Quorum: true, Expect: 2, FirstRound: true,
		At: testNow,
		Targets: map[string]gslb.TargetState{
			idEU: es(idEU, euState, "probe ok", 0, false,
				obs("node-a", idEU, euState, 0, false, "probe ok", 1),
				obs("node-b", idEU, euState, 0, false, "probe ok", 1)),
			idUS: es(idUS, gslb.Down, "2 probes failed: connection refused", 0, false,
				obs("node-a", idUS, gslb.Down, 0, false, "2 probes failed: connection refused", 2),
				obs("node-b", idUS, gslb.Recovering, 0, false, "alive, waiting for lag", 2)),
			idAP: es(idAP, gslb.Recovering, "lag 30s over max_lag 2s", 30*time.Second, true,
				obs("node-a", idAP, gslb.Recovering, 30*time.Second, true, "lag 30s over max_lag 2s", 3)),
		},
	}
}

// testSnapshot builds a real Snapshot from testConfig and testView.
func testSnapshot(t testing.TB) *gslb.Snapshot {
	t.Helper()
	snap, err := gslb.NewSnapshot(gslb.Options{Config: testConfig(), View: testView(gslb.Ready), Now: testNow})
	if err != nil {
		t.Fatalf("gslb.NewSnapshot: %v", err)
	}
	if snap == nil {
		t.Fatal("gslb.NewSnapshot returned nil without an error")
	}
	return snap
}

func testStore(t testing.TB) *gslb.Store {
	var st gslb.Store
	st.Swap(testSnapshot(t))
	return &st
}

// fakeDrain records drain calls; ids in unknown answer ErrUnknownEndpoint.
type fakeDrain struct {
	mu      sync.Mutex
	calls   []drainCall
	unknown []string
	fail    error
}

type drainCall struct {
	ID      string
	Drained bool
}

func (f *fakeDrain) Drain(d gslb.Drain) error {
	id, drained := d.Key(), d.Drained
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.unknown, id) {
		return errors.Join(errors.New("drain"), ErrUnknownEndpoint)
	}
	if f.fail != nil {
		return f.fail
	}
	f.calls = append(f.calls, drainCall{id, drained})
	return nil
}

func (f *fakeDrain) Calls() []drainCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fakeDev is an in-memory Dev.
type fakeDev struct {
	mu      sync.Mutex
	regions []DevRegion
}

func newFakeDev() *fakeDev {
	return &fakeDev{regions: []DevRegion{{Region: "eu-west", Alive: true}, {Region: "us-east", Alive: true}, {Region: "ap-south", Alive: true}}}
}

func (f *fakeDev) SetRegion(region string, alive *bool, lag *float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.regions {
		if f.regions[i].Region == region {
			if alive != nil {
				f.regions[i].Alive = *alive
			}
			if lag != nil {
				f.regions[i].LagSeconds = *lag
			}
			return nil
		}
	}
	return ErrUnknownRegion
}

func (f *fakeDev) Regions() []DevRegion {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.regions)
}

func (f *fakeDev) Region(name string) DevRegion {
	for _, r := range f.Regions() {
		if r.Region == name {
			return r
		}
	}
	return DevRegion{}
}

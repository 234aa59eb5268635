package cluster

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

func TestCodecDrainExtension(t *testing.T) {
	for name, d := range map[string]gslb.Drain{
		"region":          {Region: "eu-west", Drained: true, At: t0, By: "n1", Reason: "evacuate"},
		"endpoint window": {Endpoint: "eu@www", Drained: true, At: t0, By: "n1", From: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)},
		"region undrain":  {Region: "eu-west", At: t0, By: "n2"},
		"open-ended":      {Region: "r", Drained: true, At: t0, By: "n", From: t0},
	} {
		b, err := encodeDrain(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m, err := decode(b)
		if err != nil || !reflect.DeepEqual(m.Drain, d) {
			t.Fatalf("%s: round trip %v\n got %+v\nwant %+v", name, err, m.Drain, d)
		}
		st, _ := encodeState(nil, []gslb.Drain{d, {Endpoint: "x", Drained: true, At: t0}}, nil)
		if m, err = decode(st); err != nil || len(m.Drains) != 2 || !reflect.DeepEqual(m.Drains[0], d) {
			t.Fatalf("%s: in a state: %v %+v", name, err, m.Drains)
		}
	}
	// A plain endpoint drain keeps the byte layout nodes without the
	// extension send and accept.
	b, _ := encodeDrain(gslb.Drain{Endpoint: "e", Drained: true, At: time.Unix(0, 1), By: "n"})
	if got, want := hex.EncodeToString(b), fmt.Sprintf("%02x", protoVersion)+"0201650102016e"; got != want {
		t.Fatalf("plain drain encodes as %s, want the old layout %s", got, want)
	}

	bad := map[string]gslb.Drain{
		"both targets":     {Region: "r", Endpoint: "e", At: t0},
		"long region":      {Region: strings.Repeat("r", maxRegionLen+1), At: t0},
		"no target at all": {At: t0},
	}
	for name, d := range bad {
		if _, err := encodeDrain(d); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	// Hostile extensions are refused: a window ending before it starts,
	// a region flag without the extension, unknown flags.
	for name, msg := range map[string][]byte{
		"inverted window": func() []byte {
			b, _ := encodeDrain(gslb.Drain{Region: "r", Drained: true, At: t0, From: t0.Add(2 * time.Hour), Until: t0.Add(time.Hour)})
			return b
		}(),
		"region without ext": {protoVersion, msgDrain, 1, 'r', drainFlagRegion | drainFlagDrained, 2, 0},
		"unknown flag":       {protoVersion, msgDrain, 1, 'e', 1 << 5, 2, 0},
	} {
		if _, err := decode(msg); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// A region drain taken on one node drains that region's endpoints on
// every node (each reads the region of its endpoints from its own
// config), and its undrain lifts it everywhere.
func TestClusterRegionDrain(t *testing.T) {
	h := newHarness(t)
	all := []string{"n1", "n2", "n3"}
	for _, name := range all {
		h.start(name, 3)
	}
	h.waitMembers(all, 3)
	h.observe(all, epWeb, gslb.Ready)
	h.observe(all, epAPI, gslb.Ready)
	h.waitState(all, epWeb, gslb.Ready)
	h.waitState(all, epAPI, gslb.Ready)

	h.nodes["n2"].SetDrain(gslb.Drain{Region: "eu", Drained: true, Reason: "evacuate"})
	h.waitState(all, epWeb, gslb.Drained)
	for _, name := range all {
		v := h.nodes[name].View()
		if s := endpoint(v, epAPI).State; s != gslb.Ready {
			t.Fatalf("%s: the other region's endpoint is %s", name, s)
		}
		if rd := v.RegionDrains["eu"]; rd.By != "n2" || rd.Reason != "evacuate" {
			t.Fatalf("%s: region drain record %+v", name, rd)
		}
	}
	h.nodes["n3"].SetDrain(gslb.Drain{Region: "eu"})
	h.waitState(all, epWeb, gslb.Ready)
}

// A maintenance window starts and ends on its own: nothing is gossiped
// at either edge, the node's loop agrees again at View.DrainChangeAt.
func TestClusterWindowStartsAndEnds(t *testing.T) {
	h := newHarness(t)
	n := h.start("solo", 1, func(o *Options) {
		o.Config.Seeds = nil
		// No periodic recompute within the test: only the window timer
		// can make the edges take effect.
		o.Config.Refresh = config.Duration(time.Hour)
	})
	h.observe([]string{"solo"}, epWeb, gslb.Ready)
	h.waitState([]string{"solo"}, epWeb, gslb.Ready)
	from := time.Now().Add(700 * time.Millisecond)
	until := from.Add(700 * time.Millisecond)
	n.SetDrain(gslb.Drain{Region: "eu", Drained: true, From: from, Until: until})
	if s := endpoint(n.View(), epWeb).State; s != gslb.Ready && time.Now().Before(from) {
		t.Fatalf("scheduled window already in effect: %s", s)
	}
	h.waitState([]string{"solo"}, epWeb, gslb.Drained)
	if time.Now().Before(from) {
		t.Fatal("drained before the window started")
	}
	h.waitState([]string{"solo"}, epWeb, gslb.Ready)
	if time.Now().Before(until) {
		t.Fatal("undrained before the window ended")
	}
}

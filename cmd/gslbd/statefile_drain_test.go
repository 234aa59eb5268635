package main

import (
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// Region drains and maintenance windows survive a restart through the
// state file alone (a solo node has no peer to learn them from again).
func TestStateFileRegionDrains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	at := time.Now().Add(-time.Minute).UTC()
	want := []gslb.Drain{
		{Endpoint: "r1@app.gslb.test", Drained: true, At: at, By: "n1"},
		{Region: "r2", Drained: true, At: at, By: "n1", Reason: "window", From: at.Add(time.Hour), Until: at.Add(2 * time.Hour)},
	}
	sf := &stateFile{path: path, log: zap.NewNop()}
	if err := sf.save(want, nil); err != nil {
		t.Fatal(err)
	}
	node, err := cluster.New(cluster.Options{Node: "n1", Config: config.Cluster{}, Endpoints: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&stateFile{path: path, log: zap.NewNop()}).restore(node); err != nil {
		t.Fatal(err)
	}
	got := node.Drains()
	if len(got) != 2 {
		t.Fatalf("restored %+v, want both drains", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Key() != w.Key() || g.Drained != w.Drained || !g.At.Equal(w.At) || g.Reason != w.Reason || !g.From.Equal(w.From) || !g.Until.Equal(w.Until) {
			t.Errorf("restored %+v, want %+v", g, w)
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/gslb"
)

// maxStateSkew is how far in the future a saved drain may be stamped: the
// limit gossip applies to a peer's drain, so a restored drain can never
// win where the same record from a peer would have been refused.
const maxStateSkew = time.Minute

// stateFile keeps operator drains and write names' records across
// restarts. Both are cluster state; the file only seeds this node at
// start, through the same validity rules as gossip.
type stateFile struct {
	path string
	log  *zap.Logger
	// mu serializes saves: the publisher saves after every View, an admin
	// action saves before it answers.
	mu   sync.Mutex
	last []byte
	// now is the clock for the future-stamp check; nil is time.Now.
	now func() time.Time
}

type savedState struct {
	Drains []gslb.Drain `json:"drains"`
	// Writes holds write names' records in force, so a restarted cluster
	// keeps its write primary.
	Writes []gslb.WriteActive `json:"writes,omitempty"`
}

// restore feeds the saved state to the cluster node. A missing file is a
// first start. An unreadable or damaged file stops the start, since
// serving a drained endpoint or another write primary by mistake is worse
// than not starting; the error says how to recover. A record that fails
// the gossip rules (a drain stamped in the future, a write record without
// a majority of backers) is skipped with a warning.
func (d *stateFile) restore(node *cluster.Node) error {
	if d.path == "" {
		return nil
	}
	b, err := os.ReadFile(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file %s: %w", d.path, err)
	}
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("state file %s is damaged (%v); it holds operator drains and write primaries. "+
			"To recover: move it aside (mv %s %s.damaged) and start again; the node then takes drains and write "+
			"records from its peers, or starts with none (check /api/v1/state and drain again if needed)",
			d.path, err, d.path, d.path)
	}
	now := time.Now
	if d.now != nil {
		now = d.now
	}
	restored := 0
	for _, dr := range st.Drains {
		if (dr.Endpoint == "") == (dr.Region == "") || dr.At.After(now().Add(maxStateSkew)) {
			d.log.Warn("state file: skipping a drain stamped in the future or without exactly one endpoint or region",
				zap.String("endpoint", dr.Endpoint), zap.String("region", dr.Region), zap.Time("at", dr.At))
			continue
		}
		node.SetDrain(dr)
		restored++
	}
	writes := 0
	for _, w := range st.Writes {
		if err := node.Restore(w); err != nil {
			d.log.Warn("state file: skipping a write record", zap.String("name", w.Name), zap.Error(err))
			continue
		}
		writes++
	}
	d.last = bytes.TrimSpace(b)
	d.log.Info("state restored", zap.String("file", d.path), zap.Int("drains", restored), zap.Int("writes", writes))
	return nil
}

// save writes the state when it changed: to a temporary file that is
// synced, renamed over the old one, and the directory synced, so a crash
// leaves either the old file or the new one, never a truncated one. It
// returns the error (also logged) so an admin action can report it.
func (d *stateFile) save(drains []gslb.Drain, writes []gslb.WriteActive) error {
	if d.path == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	sort.Slice(drains, func(i, j int) bool { return drains[i].Key() < drains[j].Key() })
	b, err := json.MarshalIndent(savedState{Drains: drains, Writes: writes}, "", "  ")
	if err != nil {
		return err
	}
	if bytes.Equal(b, d.last) {
		return nil
	}
	if err := writeFileSynced(d.path, append(b, '\n')); err != nil {
		d.log.Error("cannot write state file; drains and write records stay in memory", zap.String("file", d.path), zap.Error(err))
		return err
	}
	d.last = b
	return nil
}

// writeFileSynced replaces path with data atomically and durably.
func writeFileSynced(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".gslbd-state-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	df, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer df.Close()
	return df.Sync()
}

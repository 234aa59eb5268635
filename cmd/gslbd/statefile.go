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

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/gslb"
)

// stateFile keeps operator drains and write names' active regions across
// restarts. Both are cluster state (gossiped, newest wins); the file only
// seeds this node at start.
type stateFile struct {
	path string
	log  *zap.Logger
	last []byte
}

type savedState struct {
	Drains []gslb.Drain `json:"drains"`
	// Active holds write names' active regions after a failover, so a
	// restarted cluster does not silently fail back.
	Active []gslb.WriteActive `json:"active,omitempty"`
}

// restore feeds the saved drains to the cluster node. A missing file is a
// first start; an unreadable or corrupt one stops the start, since serving
// a drained endpoint by mistake is worse than not starting.
func (d *stateFile) restore(node *cluster.Node) error {
	if d.path == "" {
		return nil
	}
	b, err := os.ReadFile(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("state file %s: %w", d.path, err)
	}
	for _, dr := range st.Drains {
		node.SetDrain(dr)
	}
	for _, a := range st.Active {
		node.SetActive(a)
	}
	d.last = bytes.TrimSpace(b)
	d.log.Info("state restored", zap.String("file", d.path), zap.Int("drains", len(st.Drains)), zap.Int("active", len(st.Active)))
	return nil
}

// save writes the state when it changed, atomically (temp file + rename).
func (d *stateFile) save(drains []gslb.Drain, active []gslb.WriteActive) {
	if d.path == "" {
		return
	}
	sort.Slice(drains, func(i, j int) bool { return drains[i].Endpoint < drains[j].Endpoint })
	b, err := json.MarshalIndent(savedState{Drains: drains, Active: active}, "", "  ")
	if err != nil || bytes.Equal(b, d.last) {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(d.path), ".gslbd-state-*")
	if err == nil {
		_, err = tmp.Write(append(b, '\n'))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), d.path)
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}
	if err != nil {
		d.log.Error("cannot write state file; drains stay in memory", zap.String("file", d.path), zap.Error(err))
		return
	}
	d.last = b
}

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

// drainFile keeps operator drains across restarts. Drains are cluster
// state (gossiped, newest wins); the file only seeds this node at start.
type drainFile struct {
	path string
	log  *zap.Logger
	last []byte
}

type drainState struct {
	Drains []gslb.Drain `json:"drains"`
}

// restore feeds the saved drains to the cluster node. A missing file is a
// first start; an unreadable or corrupt one stops the start, since serving
// a drained endpoint by mistake is worse than not starting.
func (d *drainFile) restore(node *cluster.Node) error {
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
	var st drainState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("state file %s: %w", d.path, err)
	}
	for _, dr := range st.Drains {
		node.SetDrain(dr)
	}
	d.last = bytes.TrimSpace(b)
	d.log.Info("drains restored", zap.String("file", d.path), zap.Int("drains", len(st.Drains)))
	return nil
}

// save writes the drains when they changed, atomically (temp file + rename).
func (d *drainFile) save(drains []gslb.Drain) {
	if d.path == "" {
		return
	}
	sort.Slice(drains, func(i, j int) bool { return drains[i].Endpoint < drains[j].Endpoint })
	b, err := json.MarshalIndent(drainState{Drains: drains}, "", "  ")
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

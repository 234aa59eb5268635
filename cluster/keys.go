package cluster

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/gslbd/gslbd/config"
)

// keyLen is the AES-256 key size the config documents; memberlist would
// also take 16 or 24 bytes, but one size keeps rotation simple.
const keyLen = 32

// loadKeys decodes cfg.Keys and then the lines of cfg.KeyFile (blank lines
// and #-comments skipped). The first key is primary. Duplicates are
// dropped, so a loader that already appended the key file's keys to Keys
// gives the same result.
func loadKeys(cfg config.Cluster) ([][]byte, error) {
	var out [][]byte
	add := func(where, s string) error {
		s = strings.TrimSpace(s)
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("cluster: %s: key is not base64: %v", where, err)
		}
		if len(k) != keyLen {
			return fmt.Errorf("cluster: %s: key is %d bytes, want %d", where, len(k), keyLen)
		}
		for _, o := range out {
			if bytes.Equal(o, k) {
				return nil
			}
		}
		out = append(out, k)
		return nil
	}
	for i, s := range cfg.Keys {
		if err := add(fmt.Sprintf("cluster.keys[%d]", i), s); err != nil {
			return nil, err
		}
	}
	if cfg.KeyFile != "" {
		data, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster: cluster.key_file: %w", err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(fmt.Sprintf("%s:%d", cfg.KeyFile, i+1), line); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

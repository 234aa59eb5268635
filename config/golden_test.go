package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleConfigs parses every shipped example: a config in configs/
// that does not load is a bug.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d example configs in ../configs, want at least 5 (dev, 3 cluster nodes, production)", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if c.Source != f || len(c.Hash) != 64 {
				t.Errorf("Source %q Hash %q", c.Source, c.Hash)
			}
			if len(c.AllEndpoints()) == 0 {
				t.Error("no endpoints")
			}
		})
	}
}

// TestBadConfigs loads each testdata/bad/NAME.yaml and checks that its
// error lists exactly the problems in NAME.want, one per line, each line
// a fragment "LINE: PATH: message" of one Error() line.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 12 {
		t.Fatalf("only %d bad configs", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			wantData, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, l := range strings.Split(string(wantData), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					want = append(want, l)
				}
			}
			c, err := Load(f)
			if err == nil {
				t.Fatalf("loaded without error: %+v", c)
			}
			if c != nil {
				t.Error("a failed Load must return a nil Config")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *config.Error: %v", err, err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(ce.Problems) {
				t.Errorf("Error() has %d lines for %d problems", len(got), len(ce.Problems))
			}
			for _, w := range want {
				// "FILE:LINE: ..." — anchor line numbers on the colon so
				// "2:" does not match "12:".
				needle := w
				if w[0] >= '0' && w[0] <= '9' {
					needle = ":" + w
				}
				found := false
				for _, g := range got {
					if strings.Contains(g, needle) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("missing problem %q", w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), err)
			}
		})
	}
}

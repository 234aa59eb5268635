package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules enforces ARCHITECTURE.md's package graph with go list:
// subsystems meet only in cmd/gslbd, and miekg/dns stays inside dns/. The
// graph holds for test files too, widened to what the allowed packages
// themselves may import (a dashboard test builds gslb values from config
// types) but never to a sibling subsystem (a test of health must not reach
// into cluster); tests may use miekg/dns as a client to query a real server.
func TestImportRules(t *testing.T) {
	const mod = "github.com/gslbd/gslbd/"
	allowed := map[string][]string{
		"config":    {},
		"connlimit": {},
		"configs":   {},
		"geo":       {},
		"gslb":      {"config", "geo"},
		"health":    {"config", "gslb", "connlimit"},
		"cluster":   {"config", "gslb", "connlimit"},
		"dns":       {"gslb", "connlimit"},
		"dashboard": {"gslb"},
		// hooks and audit turn gslb.Change values into deliveries and
		// log lines; they need the config types of their sections.
		"hooks": {"config", "gslb"},
		"audit": {"config", "gslb"},
		// internal/testenv is test support: any test may use it, no
		// production code may, and it imports nothing of gslbd.
		"internal": {},
	}
	cmd := exec.Command("go", "list", "-json", "../../...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("go list not runnable: %v", err)
	}
	dec := json.NewDecoder(out)
	seen, testImports := 0, 0
	for {
		var p struct {
			ImportPath   string
			Imports      []string
			TestImports  []string
			XTestImports []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(p.ImportPath, mod)
		top := strings.SplitN(rel, "/", 2)[0]
		ok, ruled := allowed[top]
		testImports += len(p.TestImports) + len(p.XTestImports)
		for i, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if strings.HasPrefix(imp, "github.com/miekg/dns") && top != "dns" && i < len(p.Imports) {
				t.Errorf("%s imports %s: miekg/dns types stay inside dns/", p.ImportPath, imp)
			}
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.SplitN(strings.TrimPrefix(imp, mod), "/", 2)[0]
			if dep == "cmd" {
				t.Errorf("%s imports %s: nothing imports cmd", p.ImportPath, imp)
			}
			if dep == "internal" && top != "internal" {
				if i < len(p.Imports) {
					t.Errorf("%s imports %s: internal/ is for tests only", p.ImportPath, imp)
				}
				continue
			}
			if !ruled || dep == top {
				continue
			}
			if !slices.Contains(ok, dep) && (i < len(p.Imports) || !slices.ContainsFunc(ok, func(a string) bool {
				return slices.Contains(allowed[a], dep)
			})) {
				t.Errorf("%s imports %s: not allowed by ARCHITECTURE.md", p.ImportPath, imp)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if seen < 8 || testImports < 50 {
		t.Fatalf("go list saw only %d packages and %d test imports", seen, testImports)
	}
}

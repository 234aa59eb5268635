package config

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
			c, err := loadExample(t, f)
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

// loadExample runs Prepare on an example config with the system paths it
// names (admin token, GeoIP database) pointed at test files, since a
// test machine has no /etc/gslbd.
func loadExample(t *testing.T, path string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(token, []byte("an-example-admin-token-of-32-byt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := strings.NewReplacer(
		"/etc/gslbd/admin.token", token,
		"/var/lib/gslbd/GeoLite2-City.mmdb", "../geo/testdata/GeoLite2-City-Test.mmdb",
	).Replace(string(data))
	return Prepare([]byte(src), path)
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

// TestSystemdUnit checks the shipped unit for what issue 6 asks of it:
// reload by SIGHUP, port 53 through CAP_NET_BIND_SERVICE as an
// unprivileged user, and a writable state directory for the drain file
// despite ProtectSystem=strict. With systemd-analyze installed the unit
// is also verified by systemd itself.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("../configs/gslbd.service")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf("line %q is not KEY=VALUE", l)
			continue
		}
		set[k] = append(set[k], v)
	}
	one := func(k string) string {
		if len(set[k]) != 1 {
			t.Errorf("%s set %d times, want once", k, len(set[k]))
			return ""
		}
		return set[k][0]
	}
	if v := one("ExecReload"); !strings.Contains(v, "kill -HUP $MAINPID") {
		t.Errorf("ExecReload=%s, want a SIGHUP to $MAINPID", v)
	}
	if v := one("User"); v == "" || v == "root" {
		t.Errorf("User=%q, want an unprivileged user", v)
	}
	if v := one("AmbientCapabilities"); v != "CAP_NET_BIND_SERVICE" {
		t.Errorf("AmbientCapabilities=%q", v)
	}
	if v := one("CapabilityBoundingSet"); !strings.Contains(v, "CAP_NET_BIND_SERVICE") {
		t.Errorf("CapabilityBoundingSet=%q drops CAP_NET_BIND_SERVICE", v)
	}
	// PrivateUsers would confine the capability to a user namespace, where
	// it cannot bind port 53 of the host's network.
	if v := set["PrivateUsers"]; len(v) > 0 && v[0] != "no" {
		t.Errorf("PrivateUsers=%s breaks binding port 53", v[0])
	}
	if v := set["ProtectSystem"]; len(v) > 0 && v[0] == "strict" {
		if sd := one("StateDirectory"); sd != "gslbd" {
			t.Errorf("ProtectSystem=strict needs StateDirectory=gslbd for /var/lib/gslbd (state file), got %q", sd)
		}
	}
	if v := one("RestrictAddressFamilies"); !strings.Contains(v, "AF_INET6") || !strings.Contains(v, "AF_NETLINK") {
		t.Errorf("RestrictAddressFamilies=%s, want AF_INET6 and AF_NETLINK (interface lookup for memberlist)", v)
	}
	// The production example keeps its drain file where the unit lets it write.
	c, err := loadExample(t, "../configs/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.StateFile, "/var/lib/gslbd/") {
		t.Errorf("production state_file %q is outside the unit's StateDirectory /var/lib/gslbd", c.StateFile)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed; unit syntax not verified by systemd")
		return
	}
	// verify insists that ExecStart exists; point it at a binary that does.
	unit := filepath.Join(t.TempDir(), "gslbd.service")
	fixed := strings.ReplaceAll(string(data), "/usr/local/bin/gslbd", "/bin/true")
	if err := os.WriteFile(unit, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, analyze, "verify", unit).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	for _, f := range files {
		if strings.Contains(f, "production") {
			// It names a GeoIP file that exists only on a real host; the
			// config package's tests parse it.
			continue
		}
		var out, errb bytes.Buffer
		if code := run([]string{"check", "-config", f}, &out, &errb); code != 0 {
			t.Errorf("check %s: exit %d: %s", f, code, errb.String())
			continue
		}
		if !strings.Contains(out.String(), "ok:") || strings.Count(out.String(), "\n") != 1 {
			t.Errorf("check %s: want a one-line summary, got %q", f, out.String())
		}
	}
}

func TestCheckBadConfigListsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := `node: x
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    records:
      - {name: www, type: A, value: "2001:db8::1"}
      - {name: www.other.test., type: A, value: 192.0.2.1}
    unknown_key: true
`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-config", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errb.String())
	}
	msg := errb.String()
	for _, want := range []string{"unknown_key", "records[0]", "records[1]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("check output lacks %q:\n%s", want, msg)
		}
	}
	if lines := strings.Count(strings.TrimSpace(msg), "\n") + 1; lines < 3 {
		t.Errorf("want every problem on its own line, got %d line(s):\n%s", lines, msg)
	}
}

func TestCheckMissingFile(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-config", "/nonexistent/gslbd.yaml"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "/nonexistent/gslbd.yaml") {
		t.Errorf("error does not name the file: %s", errb.String())
	}
}

func TestPortInUseIsAClearStartupError(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	held, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	addr := held.LocalAddr().String()
	cmd := exec.Command(gslbdBinary(t), "-dev", "-dns", addr, "-http", "127.0.0.1:0", "-log-format", "json")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("gslbd started on a busy port:\n%s", out)
	}
	if !strings.Contains(string(out), addr) || !strings.Contains(string(out), "in use") {
		t.Errorf("startup error does not name the busy address %s:\n%s", addr, out)
	}
}

func TestCorruptGeoIPDatabaseNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "broken.mmdb")
	if err := os.WriteFile(db, []byte("this is not an mmdb file at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gslbd.yaml")
	cfg := "geoip: {databases: [" + db + "]}\nregions: [{name: r1, latitude: 1, longitude: 2, continent: EU}]\nzones:\n  - apex: gslb.test.\n    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-config", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1 (%s)", code, out.String())
	}
	if !strings.Contains(errb.String(), db) {
		t.Errorf("error does not name the database file: %s", errb.String())
	}
}

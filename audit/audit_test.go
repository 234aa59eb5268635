package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

func entry(i int) gslb.Change {
	return gslb.Change{Kind: gslb.ChangeAdmin, At: time.Date(2026, 3, 1, 12, 0, i, 0, time.UTC), Node: "n1",
		Who: "admin token", Remote: "127.0.0.1:5000", Action: fmt.Sprintf("drain region r%d", i), Result: "ok"}
}

func lines(t *testing.T, path string) []gslb.Change {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []gslb.Change
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c gslb.Change
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: line %q is not JSON: %v", path, sc.Text(), err)
		}
		out = append(out, c)
	}
	return out
}

func TestAppendSyncReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(config.AuditLog{Path: path, MaxBytes: 1 << 20, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	syncs := 0
	l.sync = func(f *os.File) error { syncs++; return f.Sync() }
	for i := range 3 {
		if err := l.Write(entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if syncs != 3 {
		t.Errorf("%d fsyncs for 3 entries, want one each", syncs)
	}
	got := lines(t, path)
	if len(got) != 3 || got[2].Action != "drain region r2" || got[0].ID == "" || got[0].ID == got[1].ID {
		t.Fatalf("file entries %+v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened: appends after the old entries and remembers them. A
	// corrupt line (a crash mid-write) is skipped, not fatal.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"adm`)
	f.Close()
	l, err = Open(config.AuditLog{Path: path, MaxBytes: 1 << 20, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if r := l.Recent(10); len(r) != 3 || r[0].Action != "drain region r0" {
		t.Fatalf("recent after reopen %+v", r)
	}
	if err := l.Write(entry(3)); err != nil {
		t.Fatal(err)
	}
	if r := l.Recent(2); len(r) != 2 || r[1].Action != "drain region r3" {
		t.Fatalf("Recent(2) %+v", r)
	}
}

func TestRotateBySize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	one, _ := json.Marshal(entry(0).WithID())
	size := int64(len(one)+1) * 3 // three entries per file
	l, err := Open(config.AuditLog{Path: path, MaxBytes: size, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 10 {
		if err := l.Write(entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	// 10 entries: path.2 holds 3-5, path.1 6-8, path holds 9; 0-2 fell
	// beyond keep.
	for file, first := range map[string]int{path: 9, path + ".1": 6, path + ".2": 3} {
		got := lines(t, file)
		if got[0].Action != fmt.Sprintf("drain region r%d", first) {
			t.Errorf("%s starts with %q, want r%d", filepath.Base(file), got[0].Action, first)
		}
		if st, _ := os.Stat(file); st.Size() > size {
			t.Errorf("%s is %d bytes, over max %d", filepath.Base(file), st.Size(), size)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("path.3 exists beyond keep 2: %v", err)
	}
	if r := l.Recent(100); len(r) != 10 {
		t.Errorf("Recent keeps %d entries across rotations, want 10", len(r))
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(config.AuditLog{}); err == nil {
		t.Error("opened without a path")
	}
	if _, err := Open(config.AuditLog{Path: filepath.Join(t.TempDir(), "missing", "audit.jsonl"), MaxBytes: 4096}); err == nil {
		t.Error("opened in a missing directory")
	}
}

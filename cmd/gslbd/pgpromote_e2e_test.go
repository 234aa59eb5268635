package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gslbd/gslbd/gslb"
)

// pgPair is a PostgreSQL primary and streaming standby on loopback, run
// as the postgres user when the test runs as root (as in health's tests).
type pgPair struct {
	t                    *testing.T
	bin, dir, asUser     string
	primary, standby     int
	primaryDir, standbyD string
	running              []string
}

func (s *pgPair) run(name string, args ...string) {
	s.t.Helper()
	path := filepath.Join(s.bin, name)
	cmd := exec.Command(path, args...)
	if s.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	}
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (s *pgPair) dsn(port int) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=5", port)
}

func startPGPair(t *testing.T) *pgPair {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if _, err := exec.LookPath("psql"); len(matches) == 0 || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL server binaries and psql are required in CI (apt-get install postgresql)")
		}
		t.Skip("PostgreSQL server binaries or psql not found (apt-get install postgresql)")
	}
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi < vj
	})
	s := &pgPair{t: t, bin: filepath.Dir(matches[len(matches)-1])}
	dir, err := os.MkdirTemp("", "gslbd-pgpromote-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = "postgres"
	}
	s.primary, s.standby = freePort(t), freePort(t)
	s.primaryDir, s.standbyD = filepath.Join(dir, "primary"), filepath.Join(dir, "standby")
	s.run("initdb", "-D", s.primaryDir, "-U", "postgres", "-A", "trust", "--no-locale", "-E", "UTF8", "--no-sync")
	appendFile(t, filepath.Join(s.primaryDir, "postgresql.conf"), fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
shared_buffers = 16MB
max_connections = 20
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 5
hot_standby = on
`, s.primary, dir))
	s.run("pg_ctl", "-D", s.primaryDir, "-l", filepath.Join(dir, "primary.log"), "-w", "-t", "120", "start")
	s.running = append(s.running, s.primaryDir)
	t.Cleanup(s.stopAll)
	s.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(s.primary), "-U", "postgres",
		"-D", s.standbyD, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	appendFile(t, filepath.Join(s.standbyD, "postgresql.conf"), fmt.Sprintf("\nport = %d\n", s.standby))
	s.run("pg_ctl", "-D", s.standbyD, "-l", filepath.Join(dir, "standby.log"), "-w", "-t", "120", "start")
	s.running = append(s.running, s.standbyD)
	return s
}

// stop stops one server at once, as a crash would.
func (s *pgPair) stop(dataDir string) {
	s.run("pg_ctl", "-D", dataDir, "-m", "immediate", "-w", "stop")
	for i, d := range s.running {
		if d == dataDir {
			s.running = append(s.running[:i], s.running[i+1:]...)
			break
		}
	}
}

func (s *pgPair) stopAll() {
	for len(s.running) > 0 {
		s.stop(s.running[len(s.running)-1])
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// pgWrite tries one write; nil means the server accepted it.
func pgWrite(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, "CREATE TABLE IF NOT EXISTS gslbd_writes (at timestamptz DEFAULT now()); INSERT INTO gslbd_writes DEFAULT VALUES")
	return err
}

var hookDelivered = regexp.MustCompile(`"msg":"hook delivered".*"since_change":"?([0-9.]+)`)

// TestPostgresPromotionHook is the documented PostgreSQL promotion example
// (configs/hooks/pg-promote.sh) end to end: a write name over a real
// primary/standby pair fails over when the primary dies, the command hook
// promotes the standby, and the standby then accepts writes.
func TestPostgresPromotionHook(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	pg := startPGPair(t)
	if err := pgWrite(pg.dsn(pg.primary)); err != nil {
		t.Fatalf("primary refuses writes: %v", err)
	}
	if err := pgWrite(pg.dsn(pg.standby)); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("standby before the failover: %v, want a read-only error", err)
	}
	script, err := filepath.Abs("../../configs/hooks/pg-promote.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`node: pg-test
admin: {token: s3cret-promotion-hook-test}
audit_log: {path: %[1]s/audit.jsonl}
regions:
  - {name: us-east, latitude: 39.0, longitude: -77.5}
  - {name: eu-west, latitude: 53.3, longitude: -6.3}
health: {interval: 300ms, timeout: 250ms, rise: 1, fall: 2}
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    names:
      - name: db
        role: write
        order: [us-east, eu-west]
        endpoints:
          - {region: us-east, addresses: [192.0.2.11], liveness: {type: tcp, address: "127.0.0.1:%[2]d"}}
          - {region: eu-west, addresses: [192.0.2.12], liveness: {type: tcp, address: "127.0.0.1:%[3]d"}}
hooks:
  - name: promote-db
    on: [write_primary]
    names: [db.gslb.test]
    command:
      argv: [%[4]s]
      env:
        PG_DSN_US_EAST: "%[5]s"
        PG_DSN_EU_WEST: "%[6]s"
    timeout: 90s
    retries: 3
    backoff: 500ms
`, dir, pg.primary, pg.standby, script, pg.dsn(pg.primary), pg.dsn(pg.standby))
	path := filepath.Join(dir, "gslbd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "-config", path)
	// Both servers probed ready: the write name's region is a decision
	// now, not the initial pick before the first probes.
	for _, id := range []string{"us-east@db.gslb.test", "eu-west@db.gslb.test"} {
		waitFor(t, id+" ready", 30*time.Second, func() bool { return n.endpoint(id).State == gslb.Ready })
	}
	waitFor(t, "writes sent to us-east", 30*time.Second, func() bool { return equalAddrs(n.answersFor("db.gslb.test", ""), "192.0.2.11") })

	pg.stop(pg.primaryDir)
	died := time.Now()
	moved := waitFor(t, "writes sent to eu-west", 30*time.Second, func() bool { return equalAddrs(n.answersFor("db.gslb.test", ""), "192.0.2.12") })
	var lastErr error
	waitFor(t, "the standby accepts writes", 60*time.Second, func() bool {
		lastErr = pgWrite(pg.dsn(pg.standby))
		return lastErr == nil
	})
	if lastErr != nil {
		t.Fatal(lastErr)
	}
	t.Logf("primary killed -> DNS sends writes to eu-west after %v -> standby promoted and writable after %v",
		moved.Round(time.Millisecond), time.Since(died).Round(time.Millisecond))
	waitFor(t, "hook delivery logged", 10*time.Second, func() bool { return hookDelivered.MatchString(n.logs.String()) })
	t.Logf("hook: %s", hookDelivered.FindString(n.logs.String()))
	if !strings.Contains(n.logs.String(), `"hook":"promote-db"`) {
		t.Error("the delivery log does not name the hook")
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/internal/testenv"
)

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
	if _, err := exec.LookPath("psql"); err != nil {
		testenv.SkipOrFail(t, "the promotion hook needs psql (apt-get install postgresql)")
	}
	pg := testenv.StartPostgres(t, "")
	if err := pgWrite(pg.DSN(pg.Primary)); err != nil {
		t.Fatalf("primary refuses writes: %v", err)
	}
	if err := pgWrite(pg.DSN(pg.Standby)); err == nil || !strings.Contains(err.Error(), "read-only") {
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
`, dir, pg.Primary, pg.Standby, script, pg.DSN(pg.Primary), pg.DSN(pg.Standby))
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

	pg.Stop(pg.PrimaryDir)
	died := time.Now()
	moved := waitFor(t, "writes sent to eu-west", 30*time.Second, func() bool { return equalAddrs(n.answersFor("db.gslb.test", ""), "192.0.2.12") })
	var lastErr error
	waitFor(t, "the standby accepts writes", 60*time.Second, func() bool {
		lastErr = pgWrite(pg.DSN(pg.Standby))
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

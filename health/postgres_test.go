package health

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
	"github.com/gslbd/gslbd/internal/testenv"
)

func pgConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgExec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestPostgresStandbyLag(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers")
	}
	// A short receiver timeout keeps the standby's silence limit near
	// max_lag (see pgLag.Lag).
	pg := testenv.StartPostgres(t, "wal_receiver_timeout = '2s'")
	primary := pgConnect(t, pg.DSN(pg.Primary))
	standby := pgConnect(t, pg.DSN(pg.Standby))
	pgExec(t, primary, "CREATE TABLE writes (at timestamptz DEFAULT now())")
	pgExec(t, primary, "INSERT INTO writes DEFAULT VALUES")

	const (
		iv   = 300 * time.Millisecond
		hold = 1500 * time.Millisecond
	)
	target := func(id string, port int) Target {
		return Target{
			ID: id,
			Liveness: &config.Probe{
				Address: fmt.Sprintf("127.0.0.1:%d", port), Interval: config.Duration(iv), Timeout: config.Duration(250 * time.Millisecond),
				Rise: 1, Fall: 2,
			},
			Readiness: &config.Readiness{
				Type: "postgres", DSN: pg.DSN(port), MaxLag: config.Duration(time.Second), Hold: config.Duration(hold),
				Interval: config.Duration(iv), Timeout: config.Duration(250 * time.Millisecond),
			},
		}
	}
	rec := &recorder{t: t}
	m := NewManager(Options{Emit: rec.emit})
	m.SetTargets([]Target{target("primary@db", pg.Primary), target("standby@db", pg.Standby)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	p := rec.waitFor(t, "primary@db", 0, "primary ready", state(gslb.Ready))
	if !p.LagKnown || p.Lag != 0 {
		t.Fatalf("primary: %+v", p)
	}
	ready := rec.waitFor(t, "standby@db", 0, "standby ready", state(gslb.Ready))

	// Stop replay and keep writing: the last replayed transaction ages.
	pgExec(t, standby, "SELECT pg_wal_replay_pause()")
	pgExec(t, primary, "INSERT INTO writes DEFAULT VALUES")
	lagging := rec.waitFor(t, "standby@db", ready.Seq, "standby lagging", state(gslb.Recovering))
	if !lagging.LagKnown || lagging.Lag < time.Second || !strings.Contains(lagging.Reason, ">= max_lag") {
		t.Fatalf("lagging standby: %+v", lagging)
	}
	pgExec(t, primary, "INSERT INTO writes DEFAULT VALUES")

	resumed := time.Now()
	pgExec(t, standby, "SELECT pg_wal_replay_resume()")
	back := rec.waitFor(t, "standby@db", lagging.Seq, "standby ready again", state(gslb.Ready))
	if held := back.Since.Sub(resumed); held < hold {
		t.Fatalf("standby ready %s after replay resumed; hold is %s", held, hold)
	}
	if back.Lag != 0 {
		t.Fatalf("caught-up standby lag %s", back.Lag)
	}
	// The standby really has the rows written while it was paused.
	deadline := time.Now().Add(15 * time.Second)
	for n := 0; n != 3; {
		if time.Now().After(deadline) {
			t.Fatalf("standby has %d rows, want 3", n)
		}
		qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := standby.QueryRow(qctx, "SELECT count(*) FROM writes").Scan(&n)
		qcancel()
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestPostgresCutStream: a standby whose WAL stream is cut has nothing to
// replay, so replay lag alone reads 0. It must read as not ready, with
// the reason, never as a caught-up standby.
func TestPostgresCutStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers")
	}
	// A short receiver timeout keeps the standby's silence limit near
	// max_lag (see pgLag.Lag).
	pg := testenv.StartPostgres(t, "wal_receiver_timeout = '2s'")
	const iv = 300 * time.Millisecond
	tg := Target{
		ID: "standby@db",
		Liveness: &config.Probe{Address: fmt.Sprintf("127.0.0.1:%d", pg.Standby), Interval: config.Duration(iv),
			Timeout: config.Duration(250 * time.Millisecond), Rise: 1, Fall: 2},
		Readiness: &config.Readiness{Type: "postgres", DSN: pg.DSN(pg.Standby), MaxLag: config.Duration(time.Second),
			Hold: config.Duration(600 * time.Millisecond), Interval: config.Duration(iv), Timeout: config.Duration(250 * time.Millisecond)},
	}
	rec := &recorder{t: t}
	m := NewManager(Options{Emit: rec.emit})
	m.SetTargets([]Target{tg})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	ready := rec.waitFor(t, tg.ID, 0, "standby ready", state(gslb.Ready))

	pg.Stop(pg.PrimaryDir)
	cut := rec.waitFor(t, tg.ID, ready.Seq, "standby not ready once its primary is gone", state(gslb.Recovering))
	if cut.LagKnown || !cut.Failed || !strings.Contains(cut.Reason, "standby") {
		t.Fatalf("cut standby: %+v, want an unknown lag, a failure and the reason", cut)
	}
	t.Logf("cut standby: %s", cut.Reason)
	// And it stays so: every later observation is not ready.
	later := rec.waitFor(t, tg.ID, cut.Seq+1, "another read", func(gslb.Observation) bool { return true })
	if later.State == gslb.Ready || later.LagKnown {
		t.Fatalf("standby with a cut stream read as ready: %+v", later)
	}
}

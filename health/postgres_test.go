package health

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// skipOrFail skips when an external program is missing, except in CI,
// where the test is required.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (required under CI=true)")
	}
	t.Skip(msg)
}

// pgServers is a PostgreSQL primary and streaming standby on loopback,
// run as a non-root user.
type pgServers struct {
	t        *testing.T
	bin      string
	dir      string
	asUser   string // "" when the test does not run as root
	primary  int    // ports
	standby  int
	dataDirs []string
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *pgServers) run(name string, args ...string) {
	s.t.Helper()
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		logs := ""
		for _, l := range []string{"primary.log", "standby.log"} {
			b, _ := os.ReadFile(filepath.Join(s.dir, l))
			logs += fmt.Sprintf("\n--- %s:\n%s", l, b)
		}
		s.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, logs)
	}
}

func (s *pgServers) appendConf(dataDir, text string) {
	s.t.Helper()
	f, err := os.OpenFile(filepath.Join(dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + text + "\n"); err != nil {
		s.t.Fatal(err)
	}
}

func (s *pgServers) dsn(port int) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=5", port)
}

func startPostgres(t *testing.T) *pgServers {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		skipOrFail(t, "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
	}
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi < vj
	})
	s := &pgServers{t: t, bin: filepath.Dir(matches[len(matches)-1])}
	dir, err := os.MkdirTemp("", "gslbd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			skipOrFail(t, "running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = "postgres"
	}
	s.primary, s.standby = freePort(t), freePort(t)
	primary, standby := filepath.Join(dir, "primary"), filepath.Join(dir, "standby")

	s.run("initdb", "-D", primary, "-U", "postgres", "-A", "trust", "--no-locale", "-E", "UTF8", "--no-sync")
	s.appendConf(primary, fmt.Sprintf(`listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
shared_buffers = 16MB
max_connections = 20
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 5
hot_standby = on`, s.primary, dir))
	s.run("pg_ctl", "-D", primary, "-l", filepath.Join(dir, "primary.log"), "-w", "-t", "120", "start")
	s.dataDirs = append(s.dataDirs, primary)
	t.Cleanup(s.stop)

	s.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(s.primary), "-U", "postgres",
		"-D", standby, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	// A short receiver timeout keeps the standby's silence limit near
	// max_lag in tests (see pgLag.Lag).
	s.appendConf(standby, fmt.Sprintf("port = %d\nwal_receiver_timeout = '2s'", s.standby))
	s.run("pg_ctl", "-D", standby, "-l", filepath.Join(dir, "standby.log"), "-w", "-t", "120", "start")
	s.dataDirs = append(s.dataDirs, standby)
	return s
}

func (s *pgServers) stop() {
	for i := len(s.dataDirs) - 1; i >= 0; i-- {
		s.run("pg_ctl", "-D", s.dataDirs[i], "-m", "immediate", "-w", "stop")
	}
	s.dataDirs = nil
}

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
	pg := startPostgres(t)
	primary := pgConnect(t, pg.dsn(pg.primary))
	standby := pgConnect(t, pg.dsn(pg.standby))
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
				Type: "postgres", DSN: pg.dsn(port), MaxLag: config.Duration(time.Second), Hold: config.Duration(hold),
				Interval: config.Duration(iv), Timeout: config.Duration(250 * time.Millisecond),
			},
		}
	}
	rec := &recorder{t: t}
	m := NewManager(Options{Emit: rec.emit})
	m.SetTargets([]Target{target("primary@db", pg.primary), target("standby@db", pg.standby)})
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

// stopPrimary stops the primary at once (as a crash or a cut would), while
// the standby keeps running.
func (s *pgServers) stopPrimary() {
	s.t.Helper()
	s.run("pg_ctl", "-D", s.dataDirs[0], "-m", "immediate", "-w", "stop")
	s.dataDirs = s.dataDirs[1:]
}

// TestPostgresCutStream: a standby whose WAL stream is cut has nothing to
// replay, so replay lag alone reads 0. It must read as not ready, with
// the reason, never as a caught-up standby.
func TestPostgresCutStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers")
	}
	pg := startPostgres(t)
	const iv = 300 * time.Millisecond
	tg := Target{
		ID: "standby@db",
		Liveness: &config.Probe{Address: fmt.Sprintf("127.0.0.1:%d", pg.standby), Interval: config.Duration(iv),
			Timeout: config.Duration(250 * time.Millisecond), Rise: 1, Fall: 2},
		Readiness: &config.Readiness{Type: "postgres", DSN: pg.dsn(pg.standby), MaxLag: config.Duration(time.Second),
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

	pg.stopPrimary()
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

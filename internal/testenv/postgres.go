package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Postgres is a primary and a streaming standby, run as the postgres user when
// the test runs as root (PostgreSQL refuses to run as root).
type Postgres struct {
	// Primary and Standby are the servers' TCP ports on 127.0.0.1.
	Primary, Standby int
	// PrimaryDir and StandbyDir are the data directories, for Stop.
	PrimaryDir, StandbyDir string

	t       testing.TB
	bin     string
	dir     string
	asUser  string
	running []string
}

// StartPostgres initialises and starts a pair, stopped again when the test ends.
// standbyConf is extra postgresql.conf text for the standby (e.g. a short
// wal_receiver_timeout). Without the server binaries it skips, or fails
// under CI.
func StartPostgres(t testing.TB, standbyConf string) *Postgres {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		SkipOrFail(t, "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) < version(matches[j]) })
	p := &Postgres{t: t, bin: filepath.Dir(matches[len(matches)-1])}
	dir, err := os.MkdirTemp("", "gslbd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			SkipOrFail(t, "running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = "postgres"
	}
	p.Primary, p.Standby = freePort(t), freePort(t)
	p.PrimaryDir, p.StandbyDir = filepath.Join(dir, "primary"), filepath.Join(dir, "standby")

	p.run("initdb", "-D", p.PrimaryDir, "-U", "postgres", "-A", "trust", "--no-locale", "-E", "UTF8", "--no-sync")
	p.appendConf(p.PrimaryDir, fmt.Sprintf(`listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
shared_buffers = 16MB
max_connections = 20
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 5
hot_standby = on`, p.Primary, dir))
	p.run("pg_ctl", "-D", p.PrimaryDir, "-l", filepath.Join(dir, "primary.log"), "-w", "-t", "120", "start")
	p.running = append(p.running, p.PrimaryDir)
	t.Cleanup(p.StopAll)

	p.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Primary), "-U", "postgres",
		"-D", p.StandbyDir, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	p.appendConf(p.StandbyDir, fmt.Sprintf("port = %d\n%s", p.Standby, standbyConf))
	p.run("pg_ctl", "-D", p.StandbyDir, "-l", filepath.Join(dir, "standby.log"), "-w", "-t", "120", "start")
	p.running = append(p.running, p.StandbyDir)
	return p
}

// DSN is a libpq connection string for the server on port.
func (p *Postgres) DSN(port int) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=5", port)
}

// Stop stops one server at once, as a crash or a cut would; the other
// keeps running.
func (p *Postgres) Stop(dataDir string) {
	p.t.Helper()
	p.run("pg_ctl", "-D", dataDir, "-m", "immediate", "-w", "stop")
	for i, d := range p.running {
		if d == dataDir {
			p.running = append(p.running[:i], p.running[i+1:]...)
			break
		}
	}
}

// StopAll stops whatever still runs, standby first.
func (p *Postgres) StopAll() {
	for len(p.running) > 0 {
		p.Stop(p.running[len(p.running)-1])
	}
}

func (p *Postgres) run(name string, args ...string) {
	p.t.Helper()
	path := filepath.Join(p.bin, name)
	cmd := exec.Command(path, args...)
	if p.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.asUser, "--", path}, args...)...)
	}
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	if out, err := cmd.CombinedOutput(); err != nil {
		logs := ""
		for _, l := range []string{"primary.log", "standby.log"} {
			b, _ := os.ReadFile(filepath.Join(p.dir, l))
			logs += fmt.Sprintf("\n--- %s:\n%s", l, b)
		}
		p.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, logs)
	}
}

func (p *Postgres) appendConf(dataDir, text string) {
	p.t.Helper()
	f, err := os.OpenFile(filepath.Join(dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + text + "\n"); err != nil {
		p.t.Fatal(err)
	}
}

// version is the major version in /usr/lib/postgresql/<v>/bin/initdb.
func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

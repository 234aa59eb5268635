// Package testenv is test support shared by several packages' tests: the
// skip-or-fail rule for external programs and a real PostgreSQL pair. A
// copy in each test package would drift. The import rules allow it in
// tests only, and it imports nothing of gslbd.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// SkipOrFail skips when an external program or privilege is missing,
// except under CI=true, where the test is required and fails instead.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (required under CI=true)")
	}
	t.Skip(msg)
}

// NeedTool returns the path of program name, or skips (fails under CI)
// naming the Debian package that installs it.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, name+" not found (apt-get install "+pkg+", or make deps)")
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

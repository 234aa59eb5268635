package health

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gslbd/gslbd/config"
)

func httpProbe(url string) *config.Probe {
	return &config.Probe{URL: url, Interval: config.Duration(2 * time.Second), Timeout: config.Duration(time.Second), Rise: 1, Fall: 1}
}

func runProbe(t *testing.T, p *config.Probe) error {
	t.Helper()
	pr, err := NewProber(p, nil)
	if err != nil {
		t.Fatalf("NewProber: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout.D())
	defer cancel()
	return pr.Probe(ctx)
}

func TestHTTPProber(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "status: healthy")
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/err":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/host":
			if r.Host != "svc.example" || r.Method != http.MethodHead {
				w.WriteHeader(http.StatusBadRequest)
			}
		case "/big":
			w.Write([]byte(strings.Repeat("x", maxBody)))
			w.Write([]byte("needle"))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	defer srv.Close()
	defer close(release)

	cases := []struct {
		name    string
		mod     func(p *config.Probe)
		path    string
		wantErr string
	}{
		{"2xx", nil, "/ok", ""},
		{"5xx", nil, "/err", "status 503"},
		{"expected status", func(p *config.Probe) { p.ExpectStatus = []int{418} }, "/teapot", ""},
		{"unexpected 2xx", func(p *config.Probe) { p.ExpectStatus = []int{418} }, "/ok", "status 200"},
		{"redirect not followed", nil, "/redirect", "status 302"},
		{"body contains", func(p *config.Probe) { p.BodyContains = "healthy" }, "/ok", ""},
		{"body missing", func(p *config.Probe) { p.BodyContains = "ready" }, "/ok", `body does not contain "ready"`},
		{"body past 64KiB not read", func(p *config.Probe) { p.BodyContains = "needle" }, "/big", "body does not contain"},
		{"method and host", func(p *config.Probe) { p.Method = "head"; p.Host = "svc.example" }, "/host", ""},
		{"slow past timeout", nil, "/slow", "timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := httpProbe(srv.URL + tc.path)
			if tc.mod != nil {
				tc.mod(p)
			}
			checkErr(t, runProbe(t, p), tc.wantErr)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestHTTPSProber(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	// Failed handshakes are the point of some cases; keep them out of the output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("unknown CA fails", func(t *testing.T) {
		checkErr(t, runProbe(t, httpProbe(srv.URL)), "certificate")
	})
	t.Run("CA file verifies", func(t *testing.T) {
		p := httpProbe(srv.URL)
		p.CAFile, p.CAPEM = caFile, pemBytes // as config.Prepare reads it
		checkErr(t, runProbe(t, p), "")
	})
	t.Run("skip verify", func(t *testing.T) {
		p := httpProbe(srv.URL)
		p.TLSSkipVerify = true
		checkErr(t, runProbe(t, p), "")
	})
	t.Run("host header sets the verified name", func(t *testing.T) {
		// httptest's certificate is for example.com; the URL is an IP.
		p := httpProbe(srv.URL)
		p.CAFile, p.CAPEM = caFile, pemBytes // as config.Prepare reads it
		p.Host = "example.com"
		checkErr(t, runProbe(t, p), "")
		p.Host = "other.example"
		checkErr(t, runProbe(t, p), "certificate")
	})
	t.Run("bad CA content is refused", func(t *testing.T) {
		// config.Prepare refuses such a file first; a prober never
		// trusts nothing silently either.
		p := httpProbe(srv.URL)
		p.CAFile, p.CAPEM = garbage, []byte("not a certificate")
		if err := checkProbe(p); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
			t.Fatalf("garbage CA: %v", err)
		}
	})
}

func TestProbeConfigErrors(t *testing.T) {
	good := func() *config.Probe { return httpProbe("http://127.0.0.1:1/") }
	cases := []struct {
		name string
		mod  func(p *config.Probe)
		want string
	}{
		{"timeout equals interval", func(p *config.Probe) { p.Timeout = p.Interval }, "must be < interval"},
		{"zero interval", func(p *config.Probe) { p.Interval = 0 }, "interval"},
		{"rise 0", func(p *config.Probe) { p.Rise = 0 }, "rise 0"},
		{"fall 0", func(p *config.Probe) { p.Fall = 0 }, "fall 0"},
		{"bad url", func(p *config.Probe) { p.URL = "http://[::1" }, "bad url"},
		{"ftp url", func(p *config.Probe) { p.URL = "ftp://127.0.0.1/" }, "unknown probe type"},
		{"no host", func(p *config.Probe) { p.URL = "http:///x" }, "no host"},
		{"type vs scheme", func(p *config.Probe) { p.Type = "https" }, "does not match"},
		{"bad status", func(p *config.Probe) { p.ExpectStatus = []int{99} }, "not an HTTP status"},
		{"nothing to probe", func(p *config.Probe) { p.URL = "" }, "needs a url or an address"},
		{"bad tcp address", func(p *config.Probe) { p.URL = ""; p.Address = "127.0.0.1" }, "tcp address"},
		{"unknown type", func(p *config.Probe) { p.Type = "icmp" }, "unknown probe type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			tc.mod(p)
			err := checkProbe(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if err := checkProbe(good()); err != nil {
		t.Fatalf("good probe: %v", err)
	}
	if err := checkProbe(nil); err == nil {
		t.Fatal("nil probe accepted")
	}
}

func tcpProbe(addr string) *config.Probe {
	return &config.Probe{Address: addr, Interval: config.Duration(2 * time.Second), Timeout: config.Duration(time.Second), Rise: 1, Fall: 1}
}

func TestTCPProber(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Run("open", func(t *testing.T) {
		checkErr(t, runProbe(t, tcpProbe(ln.Addr().String())), "")
	})
	t.Run("refused", func(t *testing.T) {
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := closed.Addr().String()
		closed.Close()
		checkErr(t, runProbe(t, tcpProbe(addr)), "refused")
	})
	t.Run("hanging accept", func(t *testing.T) {
		addr, cleanup := fullBacklogListener(t)
		defer cleanup()
		checkErr(t, runProbe(t, tcpProbe(addr)), "timed out")
	})
}

// fullBacklogListener returns the address of a socket that listens with
// a backlog of 0 and never accepts, with its accept queue filled, so
// further connects hang in SYN_SENT: a server too busy to accept.
func fullBacklogListener(t *testing.T) (string, func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	var conns []net.Conn
	cleanup := func() {
		for _, c := range conns {
			c.Close()
		}
		syscall.Close(fd)
	}
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr, cleanup // the queue is full: connects now hang
		}
		conns = append(conns, c)
	}
	cleanup()
	t.Skip("kernel keeps accepting connections on a full backlog; cannot build a hanging listener")
	return "", nil
}

func TestHTTPAcceptNeverResponds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// Read the request, never answer.
				go io.Copy(io.Discard, c)
				<-done
			}()
		}
	}()
	checkErr(t, runProbe(t, httpProbe("http://"+ln.Addr().String()+"/")), "timed out")
}

package health

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDirectProberRequest: the request on the wire is what the
// http.Client probe sent (method, path and query, Host, User-Agent,
// Connection: close, the URL's user info as basic authentication), and
// interim 1xx answers are skipped as the Transport skips them.
func TestDirectProberRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reqs := make(chan *http.Request, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			reqs <- nil
			return
		}
		reqs <- r
		c.Write([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhealthy"))
	}()
	p := httpProbe("http://user:secret@" + ln.Addr().String() + "/status?deep=1")
	p.Host, p.Method, p.BodyContains = "svc.example", "POST", "healthy"
	checkErr(t, runProbe(t, p), "")
	r := <-reqs
	if r == nil {
		t.Fatal("the probe's request did not parse")
	}
	user, pass, _ := r.BasicAuth()
	got := []string{r.Method, r.RequestURI, r.Host, r.UserAgent(), r.Header.Get("Connection"), user + ":" + pass}
	want := []string{"POST", "/status?deep=1", "svc.example", "gslbd-health", "close", "user:secret"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("request %q, want %q", got, want)
	}
}

// TestDirectProberEndlessHeaders: a server that never ends its headers
// fails the probe at the Transport's header limit instead of growing it.
func TestDirectProberEndlessHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line := []byte("X-Filler: " + strings.Repeat("a", 1000) + "\r\n")
		if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\n")); err != nil {
			return
		}
		for range 2 * maxResponseHeader / len(line) {
			if _, err := c.Write(line); err != nil {
				return // the probe gave up and closed
			}
		}
	}()
	p := httpProbe("http://" + ln.Addr().String() + "/")
	p.Timeout = p.Interval / 2 // 10 MiB over loopback, under -race
	checkErr(t, runProbe(t, p), "exceeded")
}

// TestDirectProberCancel: cancelling the context (Run stopping) ends a
// probe that waits for an answer, and says it was cancelled rather than
// blaming the target.
func TestDirectProberCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	pr, err := NewProber(httpProbe(srv.URL+"/hang"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	if err := pr.Probe(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled probe: %v, want context.Canceled", err)
	}
}

// BenchmarkHTTPProbe is one HTTP probe against a local server, through
// the direct prober and through an http.Client as before; allocations
// and time include the in-process server's.
func BenchmarkHTTPProbe(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	p := httpProbe(srv.URL + "/healthz")
	client, err := newHTTPClient(false, "", nil, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		client *http.Client
	}{{"direct", nil}, {"transport", client}} {
		b.Run(c.name, func(b *testing.B) {
			pr, err := NewProber(p, c.client)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := pr.Probe(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package health

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// maxResponseHeader bounds the response headers a probe reads (every 1xx
// response's included), as http.Transport's default does, so a server
// that never ends its headers cannot grow a probe's memory without bound.
const maxResponseHeader = 10 << 20

// aLongTimeAgo is a deadline in the past: setting it unblocks every read
// and write of a connection at once.
var aLongTimeAgo = time.Unix(1, 0)

// directProber is an HTTP(S) liveness probe that speaks HTTP/1.1 on one
// connection of its own instead of going through http.Transport. A probe
// is one request on a new connection that is closed afterwards, so the
// Transport's connection pool, its per-connection read and write
// goroutines and its per-request header formatting were pure overhead:
// they cost about as much CPU as the dial and the exchange themselves
// and several goroutine hand-offs per probe. Here one goroutine dials,
// shakes hands, writes the request built once at construction by
// http.Request.Write and parses the answer with http.ReadResponse, so
// what goes over the wire and how the answer is judged are as before:
// one new connection per probe, no proxy, no compression, no keep-alive,
// redirects not followed, 1xx responses other than 101 skipped.
type directProber struct {
	kind   string
	addr   string      // host:port to dial
	tls    *tls.Config // nil for plain http; ServerName always set
	req    []byte      // the request on the wire
	treq   *http.Request
	expect []int
	body   []byte
}

// readers recycles the response read buffers: at thousands of probes a
// second a fresh 4 KiB buffer each would be most of what a probe allocates.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// newDirectProber builds the prober for u (scheme http or https). host,
// when set, is the Host header and the TLS name to verify; tc is the TLS
// configuration for https (CA pool, skip-verify).
func newDirectProber(kind string, u *url.URL, method, host string, tc *tls.Config, expect []int, body []byte) (*directProber, error) {
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("bad url: %v", err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("User-Agent", "gslbd-health")
	if ui := u.User; ui != nil {
		// http.Client sends a URL's user info as basic authentication.
		pw, _ := ui.Password()
		req.SetBasicAuth(ui.Username(), pw)
	}
	req.Close = true // Connection: close, as a Transport without keep-alives sends
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		return nil, fmt.Errorf("bad request: %v", err)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if kind == "https" {
			port = "443"
		}
	}
	p := &directProber{
		kind: kind, addr: net.JoinHostPort(u.Hostname(), port), req: wire.Bytes(),
		treq: req, expect: expect, body: body,
	}
	if kind == "https" {
		p.tls = tc.Clone()
		if p.tls.ServerName == "" {
			p.tls.ServerName = u.Hostname() // what http.Transport verifies
		}
	}
	return p, nil
}

func (p *directProber) Kind() string { return p.kind }

// dialer dials probes. Keep-alive probing is off: a probe's connection
// lives for one request, and turning it on costs four setsockopt calls.
var dialer = net.Dialer{KeepAlive: -1}

func (p *directProber) Probe(ctx context.Context) error {
	raw, err := dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return probeErr(ctx, err)
	}
	defer raw.Close()
	// One callback ends every read, write and handshake of the probe when
	// ctx's deadline passes or Run stops; it costs no goroutine until then.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(aLongTimeAgo) })
	defer stop()
	err = p.exchange(raw)
	if err != nil && ctx.Err() != nil {
		return probeErr(ctx, ctx.Err())
	}
	return err
}

// exchange runs the request on the connection c and judges the answer.
func (p *directProber) exchange(c net.Conn) error {
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		if err := tc.Handshake(); err != nil {
			return probeErr(context.Background(), err)
		}
		c = tc
	}
	if _, err := c.Write(p.req); err != nil {
		return fmt.Errorf("writing request: %w", probeErr(context.Background(), err))
	}
	lr := &io.LimitedReader{R: c, N: maxResponseHeader}
	br := readers.Get().(*bufio.Reader)
	br.Reset(lr)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(br, p.treq)
		if err != nil {
			if lr.N <= 0 {
				return fmt.Errorf("server response headers exceeded %d bytes; aborted", maxResponseHeader)
			}
			return fmt.Errorf("reading response: %w", probeErr(context.Background(), err))
		}
		// 1xx answers are interim (101 ends the exchange), as the
		// Transport treats them; the header limit covers them all.
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	if !statusOK(resp.StatusCode, p.expect) {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if len(p.body) == 0 {
		return nil
	}
	lr.N = math.MaxInt64 // the body has its own bound
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("reading body: %w", probeErr(context.Background(), err))
	}
	if !bytes.Contains(b, p.body) {
		return fmt.Errorf("body does not contain %q (first %d bytes read)", p.body, len(b))
	}
	return nil
}

package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gslbd/gslbd/config"
)

// maxBody is how much of a liveness response body is read for
// body_contains: enough for a status page, bounded against a lying server.
const maxBody = 64 << 10

// Prober runs one liveness probe. Probe returns nil when the target is
// alive; ctx carries the probe's timeout.
type Prober interface {
	Probe(ctx context.Context) error
	// Kind is the metric label: http, https or tcp.
	Kind() string
}

// ProbeType returns the effective probe type of p: its Type, else the URL
// scheme, else tcp when Address is set.
func ProbeType(p *config.Probe) string {
	if p.Type != "" {
		return strings.ToLower(p.Type)
	}
	if p.URL != "" {
		if u, err := url.Parse(p.URL); err == nil {
			return strings.ToLower(u.Scheme)
		}
		return ""
	}
	if p.Address != "" {
		return "tcp"
	}
	return ""
}

func checkTimings(interval, timeout config.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("interval %s must be > 0", interval.D())
	}
	if timeout <= 0 {
		return fmt.Errorf("timeout %s must be > 0", timeout.D())
	}
	if timeout >= interval {
		return fmt.Errorf("timeout %s must be < interval %s", timeout.D(), interval.D())
	}
	return nil
}

// NewProber builds the prober for p. client, when non-nil, is used for
// HTTP probes instead of a per-probe client (its TLS settings then win).
// p must have its defaults filled in (TargetsFromConfig does that).
func NewProber(p *config.Probe, client *http.Client) (Prober, error) {
	if p == nil {
		return nil, errors.New("no probe")
	}
	if err := checkTimings(p.Interval, p.Timeout); err != nil {
		return nil, err
	}
	if p.Rise < 1 || p.Fall < 1 {
		return nil, fmt.Errorf("rise %d and fall %d must be >= 1", p.Rise, p.Fall)
	}
	switch typ := ProbeType(p); typ {
	case "tcp":
		if _, _, err := net.SplitHostPort(p.Address); err != nil {
			return nil, fmt.Errorf("tcp address %q: %v", p.Address, err)
		}
		return tcpProber{addr: p.Address}, nil
	case "http", "https":
		u, err := parseHTTPURL(p.URL)
		if err != nil {
			return nil, err
		}
		if u.Scheme != typ {
			return nil, fmt.Errorf("probe type %s does not match URL scheme %s", typ, u.Scheme)
		}
		for _, s := range p.ExpectStatus {
			if s < 100 || s > 599 {
				return nil, fmt.Errorf("expect_status %d is not an HTTP status", s)
			}
		}
		method := strings.ToUpper(p.Method)
		if method == "" {
			method = http.MethodGet
		}
		if client == nil {
			tc, err := newTLSConfig(p.TLSSkipVerify, p.CAFile, p.CAPEM, serverName(p.Host))
			if err != nil {
				return nil, err
			}
			return newDirectProber(typ, u, method, p.Host, tc, p.ExpectStatus, []byte(p.BodyContains))
		}
		return &httpProber{
			kind: typ, client: client, method: method, url: u.String(), host: p.Host,
			expect: p.ExpectStatus, body: []byte(p.BodyContains),
		}, nil
	case "":
		if p.URL != "" {
			_, err := parseHTTPURL(p.URL)
			return nil, err
		}
		return nil, errors.New("probe needs a url or an address")
	default:
		return nil, fmt.Errorf("unknown probe type %q (want http, https or tcp)", typ)
	}
}

func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("bad url %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("bad url %q: no host", raw)
	}
	return u, nil
}

// serverName is the TLS name to verify when a Host header overrides the
// URL's host: the certificate must then match the virtual host.
func serverName(host string) string {
	if host == "" {
		return ""
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// newHTTPClient builds a client with its own transport, so a hanging
// server can only hold this target's connections, and without keep-alives
// so no idle connection outlives a probe. Redirects are not followed: the
// probe judges the status the target itself returned.
//
// caPEM is the ca_file's content, read by config.Prepare; a probe never
// opens a file, so an unreadable CA is a config error, not a region down.
func newHTTPClient(skipVerify bool, caFile string, caPEM []byte, sni string) (*http.Client, error) {
	tc, err := newTLSConfig(skipVerify, caFile, caPEM, sni)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{}).DialContext,
		TLSClientConfig:     tc,
		DisableKeepAlives:   true,
		DisableCompression:  true,
		MaxIdleConnsPerHost: -1,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// newTLSConfig is the TLS configuration of an HTTPS probe or lag source:
// sni, when set, is the name the certificate must match instead of the
// URL's host; caPEM, when set, replaces the system roots.
func newTLSConfig(skipVerify bool, caFile string, caPEM []byte, sni string) (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: skipVerify, ServerName: sni} //nolint:gosec // operator's explicit choice
	if caFile != "" || len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates", caFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// httpProber probes through an http.Client: the one Options.HTTPClient
// gives, whose transport and TLS settings then win over the target's.
type httpProber struct {
	kind   string
	client *http.Client
	method string
	url    string
	host   string
	expect []int
	body   []byte
}

func (p *httpProber) Kind() string { return p.kind }

func (p *httpProber) Probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, nil)
	if err != nil {
		return err
	}
	if p.host != "" {
		req.Host = p.host
	}
	req.Header.Set("User-Agent", "gslbd-health")
	resp, err := p.client.Do(req)
	if err != nil {
		return probeErr(ctx, err)
	}
	defer resp.Body.Close()
	if !statusOK(resp.StatusCode, p.expect) {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if len(p.body) == 0 {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("reading body: %w", probeErr(ctx, err))
	}
	if !bytes.Contains(b, p.body) {
		return fmt.Errorf("body does not contain %q (first %d bytes read)", p.body, len(b))
	}
	return nil
}

func statusOK(code int, expect []int) bool {
	if len(expect) == 0 {
		return code >= 200 && code <= 299
	}
	for _, s := range expect {
		if s == code {
			return true
		}
	}
	return false
}

// probeErr turns a context deadline into a short "timed out" reason; the
// wrapped transport errors repeat the URL and are hard to read in a log.
func probeErr(ctx context.Context, err error) error {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return errTimeout
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

var errTimeout = errors.New("timed out")

type tcpProber struct{ addr string }

func (tcpProber) Kind() string { return "tcp" }

func (p tcpProber) Probe(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return probeErr(ctx, err)
	}
	return c.Close()
}

// nopProber stands in for a missing liveness probe: always alive. Its
// results keep the endpoint's observation fresh for the cluster.
type nopProber struct{}

func (nopProber) Kind() string                { return "none" }
func (nopProber) Probe(context.Context) error { return nil }

// brokenProber stands in for a probe whose settings could not be used:
// every probe fails with why, so the endpoint is down with a clear reason.
type brokenProber struct {
	kind string
	err  error
}

func (b brokenProber) Kind() string                { return b.kind }
func (b brokenProber) Probe(context.Context) error { return b.err }

// timeoutMsg is used by the manager to say how long a timed-out probe ran.
func timeoutMsg(err error, d time.Duration) error {
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("timed out after %s", d)
	}
	return err
}

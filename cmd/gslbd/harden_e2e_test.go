package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// hardenConfig is a solo node with a read and a write name over two
// loopback backends; extra is appended (YAML at top level).
func hardenConfig(t *testing.T, b1, b2 *backend, extra string) string {
	t.Helper()
	zone := twoRegions{url1: b1.srv.URL + "/healthz", url2: b2.srv.URL + "/healthz",
		health: "{interval: 500ms, timeout: 250ms, rise: 1, fall: 2}", write: true}
	return writeFile(t, filepath.Join(t.TempDir(), "gslbd.yaml"),
		"node: harden-test\nadmin: {token: "+hardenToken+"}\n"+zone.yaml()+extra)
}

const hardenToken = "harden-test-token-0123"

// TestMaxConnectionsFootprint holds the most connections a node allows
// (per-source caps set to the totals, so one source can reach them) under
// a 1024-descriptor limit, and reports its memory and descriptors: the
// caps must keep it well below the limit.
func TestMaxConnectionsFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newBackend(t), newBackend(t)
	// Shares of 1024 descriptors: DNS 1024/4, HTTP 1024/16.
	path := hardenConfig(t, b1, b2, `listen:
  max_conns: {dns: 256, dns_per_source: 256, http: 64, http_per_source: 64}
`)
	n := startNodeUnder(t, prlimitWrapper(t), "-config", path)
	waitFor(t, "ready", 30*time.Second, func() bool { code, _ := n.get("/readyz"); return code == 200 })
	http.DefaultClient.CloseIdleConnections()
	pid := n.cmd.Process.Pid
	rss0, fds0 := procStats(t, pid)
	dnsConns, _ := idleConns(t, n.tcp, 1010, dnsTCPQuery(t))
	httpConns, _ := idleConns(t, n.http, 1010, []byte("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
	rss1, fds1 := procStats(t, pid)
	t.Logf("holding DNS %d and HTTP %d connections: fds %d -> %d of %d, RSS %d -> %d kB (%.1f kB per connection)",
		len(dnsConns), len(httpConns), fds0, fds1, nofileLimit, rss0, rss1,
		float64(rss1-rss0)/float64(max(len(dnsConns)+len(httpConns), 1)))
	if len(dnsConns) != 256 || len(httpConns) != 64 {
		t.Errorf("held DNS %d, HTTP %d; want the caps 256 and 64", len(dnsConns), len(httpConns))
	}
	if fds1 > nofileLimit/2 {
		t.Errorf("%d descriptors of %d in use at the caps", fds1, nofileLimit)
	}
	// The node still probes and answers while at its caps.
	if got := n.answersFor("db.gslb.test", ""); !equalAddrs(got, "192.0.2.11") {
		t.Errorf("db answers %v at the caps", got)
	}
	for _, c := range append(dnsConns, httpConns...) {
		c.Close()
	}
}

// TestDrainRefusedWhenStateCannotBeSaved: a drain answered 200 although
// the state file could not be written, so a restart silently undid it.
// It is now refused with 500 and not applied; set-active answers 500.
func TestDrainRefusedWhenStateCannotBeSaved(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newBackend(t), newBackend(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := hardenConfig(t, b1, b2, "state_file: "+filepath.Join(stateDir, "state.json")+"\n")
	n := startNode(t, "-config", path)
	waitFor(t, "r1 answered", 20*time.Second, func() bool { return equalAddrs(n.answersFor("app.gslb.test", ""), "192.0.2.1") })
	// The directory goes away (a full or read-only disk has the same
	// effect; this one also works as root).
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	if code := n.post("/api/v1/endpoints/r1@app.gslb.test/drain", hardenToken, ""); code != 500 {
		t.Fatalf("drain with an unwritable state file: %d, want 500", code)
	}
	if got := n.endpoint("r1@app.gslb.test").State.String(); got != "ready" {
		t.Fatalf("refused drain was applied: r1 is %s", got)
	}
	// A write-name move is a term-ordered cluster record: once a quorum
	// accepted it, it cannot be taken back, but the operator still learns
	// that this node did not persist it.
	if code := n.post("/api/v1/names/db.gslb.test/active", hardenToken, `{"region":"r2"}`); code != 500 {
		t.Fatalf("set-active with an unwritable state file: %d, want 500", code)
	}
	// With the directory back, the drain works.
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if code := n.post("/api/v1/endpoints/r1@app.gslb.test/drain", hardenToken, ""); code != 200 {
		t.Fatalf("drain: %d", code)
	}
	waitFor(t, "r2 answered after the drain", 10*time.Second, func() bool { return equalAddrs(n.answersFor("app.gslb.test", ""), "192.0.2.2") })
}

// TestHTTPHostAndTLS: the listener refuses foreign Host names (421) and,
// with http_tls, serves only TLS.
func TestHTTPHostAndTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	b1, b2 := newBackend(t), newBackend(t)
	cert, key := writeTestCert(t)
	path := hardenConfig(t, b1, b2, fmt.Sprintf(`listen:
  http_hosts: [gslb-admin.example.net]
  http_tls: {cert_file: %s, key_file: %s}
`, cert, key))
	n := startNode(t, "-config", path)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test certificate
	}}
	get := func(scheme, host string) int {
		req, _ := http.NewRequest("GET", scheme+"://"+n.http+"/api/v1/state", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "https answers", 20*time.Second, func() bool { return get("https", "127.0.0.1") == 200 })
	if code := get("https", "gslb-admin.example.net"); code != 200 {
		t.Errorf("configured host name: %d, want 200", code)
	}
	if code := get("https", "rebind.attacker.example"); code != 421 {
		t.Errorf("foreign host name: %d, want 421", code)
	}
	if code := get("http", "127.0.0.1"); code == 200 {
		t.Error("plain HTTP answered on a TLS listener")
	}

	// A renewed certificate (new files in place, then SIGHUP) is served
	// without a restart.
	cn := func() string {
		c, err := tls.Dial("tcp", n.http, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test certificate
		if err != nil {
			return ""
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := cn(); got != "gslbd test" {
		t.Fatalf("certificate CN %q", got)
	}
	newCert, newKey := writeTestCertCN(t, "gslbd renewed")
	for _, f := range [][2]string{{newCert, cert}, {newKey, key}} {
		if err := os.Rename(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "renewed certificate served", 10*time.Second, func() bool { return cn() == "gslbd renewed" })
}

// writeTestCert writes a self-signed certificate for 127.0.0.1.
func writeTestCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	return writeTestCertCN(t, "gslbd test")
}

func writeTestCertCN(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"gslb-admin.example.net"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

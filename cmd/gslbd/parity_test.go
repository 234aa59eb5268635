package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
)

// parityBase is a valid config that listens on loopback port 0 only.
const parityBase = `node: parity
listen: {dns: ["127.0.0.1:0"], http: "127.0.0.1:0"}
regions: [{name: r1, latitude: 1, longitude: 2, continent: EU}, {name: r2, latitude: 3, longitude: 4, continent: NA}]
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    names:
      - name: app
        endpoints:
          - {region: r1, addresses: [192.0.2.1]}
          - {region: r2, addresses: [192.0.2.2]}
`

// parityCase is one file-reference or cross-field rule: the config
// (with DIR standing for a directory holding the case's files), the files
// to create there, and what the error must say ("" for a valid config).
type parityCase struct {
	name  string
	extra string
	files map[string]string
	fifo  string
	want  string
}

var parityCases = []parityCase{
	{name: "valid", extra: "admin: {token_file: DIR/token}\n", files: map[string]string{"token": "a-long-enough-admin-token\n"}},
	{name: "missing token_file", extra: "admin: {token_file: DIR/nope}\n", want: "admin.token_file: cannot read token file"},
	{name: "short token in token_file", extra: "admin: {token_file: DIR/token}\n", files: map[string]string{"token": "short\n"}, want: "at least 16"},
	{name: "short inline token", extra: "admin: {token: short}\n", want: "admin.token: admin token is 5 bytes"},
	{name: "token and token_file", extra: "admin: {token: a-long-enough-admin-token, token_file: DIR/token}\n",
		files: map[string]string{"token": "a-long-enough-admin-token"}, want: "set token or token_file, not both"},
	{name: "token_file is a FIFO", extra: "admin: {token_file: DIR/fifo}\n", fifo: "fifo", want: "is not a regular file"},
	{name: "missing liveness ca_file", extra: probeWith("liveness: {url: 'https://127.0.0.1:1/', ca_file: DIR/ca.pem}"),
		want: "liveness.ca_file: cannot read CA file"},
	{name: "readiness ca_file not PEM", extra: probeWith("readiness: {type: http_json, url: 'https://127.0.0.1:1/', field: lag, ca_file: DIR/ca.pem}"),
		files: map[string]string{"ca.pem": "not a certificate"}, want: "holds no PEM certificates"},
	{name: "missing key_file", extra: "cluster: {bind: '127.0.0.1:0', key_file: DIR/keys}\n", want: "cluster.key_file: cannot read key file"},
	{name: "bad key in key_file", extra: "cluster: {bind: '127.0.0.1:0', key_file: DIR/keys}\n",
		files: map[string]string{"keys": "# rotation\nc2hvcnQ=\n"}, want: "line 2: key decodes to 5 bytes"},
	{name: "missing GeoIP database", extra: "geoip: {databases: [DIR/city.mmdb]}\n", want: "geoip.databases[0]: cannot read GeoIP database"},
	{name: "corrupt GeoIP database", extra: "geoip: {databases: [DIR/city.mmdb]}\n",
		files: map[string]string{"city.mmdb": "truncated"}, want: "is not a MaxMind DB file"},
	{name: "GeoIP database without locations", extra: "geoip: {databases: [../../geo/testdata/GeoLite2-ASN-Test.mmdb]}\n",
		want: `unsupported database type "GeoLite2-ASN"`},
	{name: "GeoIP database is a FIFO", extra: "geoip: {databases: [DIR/fifo]}\n", fifo: "fifo", want: "is not a regular file"},
	{name: "missing hook secret_file", extra: "hooks: [{name: pager, webhook: {url: 'http://127.0.0.1:9/hook', secret_file: DIR/secret}}]\n",
		want: "hooks[0].webhook.secret_file"},
	{name: "empty hook secret_file", extra: "hooks: [{name: pager, webhook: {url: 'http://127.0.0.1:9/hook', secret_file: DIR/secret}}]\n",
		files: map[string]string{"secret": "  \n"}, want: "is empty"},
	{name: "missing TLS certificate", extra: "listen: {dns: ['127.0.0.1:0'], http: '127.0.0.1:0', http_tls: {cert_file: DIR/cert.pem, key_file: DIR/key.pem}}\n",
		want: "listen.http_tls: cannot load the certificate and key"},
	{name: "TLS key is a FIFO", extra: "listen: {dns: ['127.0.0.1:0'], http: '127.0.0.1:0', http_tls: {cert_file: DIR/cert.pem, key_file: DIR/fifo}}\n",
		files: map[string]string{"cert.pem": "x"}, fifo: "fifo", want: "is not a regular file"},
	{name: "cidr_map unknown region", extra: "geoip: {cidr_map: [{network: 10.0.0.0/8, region: mars}]}\n", want: `unknown region "mars"`},
	{name: "stale_after not above refresh", extra: "cluster: {refresh: 5s, stale_after: 5s}\n", want: "must be longer than refresh"},
	{name: "seeds without bind", extra: "cluster: {seeds: ['127.0.0.1:1'], keys: ['ONl+pNYnqqGHlNTUKjLv1YrEc/kLiatZLX40uMbbIus=']}\n",
		want: "bind (host:port) is required when seeds are set"},
	{name: "several nodes without keys", extra: "cluster: {bind: '127.0.0.1:0', expect: 3}\n", want: "gossip keys (keys or key_file) are required"},
}

// probeWith returns a second zone whose one endpoint carries probe.
func probeWith(probe string) string {
	return `  - apex: probed.test.
    nameservers: [{name: ns1.gslb.test.}]
    names:
      - name: www
        endpoints:
          - region: r1
            addresses: [192.0.2.3]
            ` + probe + "\n"
}

// writeParityCase writes the case's config and files into a fresh
// directory and returns the config's path.
func writeParityCase(t *testing.T, c parityCase) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range c.files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if c.fifo != "" {
		if err := syscall.Mkfifo(filepath.Join(dir, c.fifo), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := parityBase
	if strings.HasPrefix(c.extra, "listen:") { // replaces the base's listen line
		src = strings.Replace(src, "listen: {dns: [\"127.0.0.1:0\"], http: \"127.0.0.1:0\"}\n", "", 1)
	}
	if strings.HasPrefix(c.extra, "  - apex:") {
		src += c.extra
	} else {
		src = c.extra + src
	}
	path := filepath.Join(dir, "gslbd.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(src, "DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckAndStartAgree runs `gslbd check` and a real start (sockets
// bound on loopback, every part built, then stopped at once) on the same
// inputs: for every file-reference and cross-field rule, check refuses
// exactly what start refuses, with the same message.
func TestCheckAndStartAgree(t *testing.T) {
	for _, c := range parityCases {
		t.Run(c.name, func(t *testing.T) {
			path := writeParityCase(t, c)
			var out, errb bytes.Buffer
			code := run([]string{"check", "-config", path}, &out, &errb)
			checkErr := strings.TrimSpace(errb.String())

			ctx, cancel := context.WithCancel(context.Background())
			cancel() // start up completely, then stop at once
			startErr := serve(ctx, flags{configPath: path}, make(chan os.Signal), zap.NewNop(), &bytes.Buffer{})

			if c.want == "" {
				if code != 0 || startErr != nil {
					t.Fatalf("valid config: check exit %d (%s), start: %v", code, checkErr, startErr)
				}
				return
			}
			if code != 1 || !strings.Contains(checkErr, c.want) {
				t.Errorf("check: exit %d, %q; want exit 1 and %q", code, checkErr, c.want)
			}
			if startErr == nil || !strings.Contains(startErr.Error(), c.want) {
				t.Errorf("start: %v; want an error with %q", startErr, c.want)
			}
			if startErr != nil && strings.TrimSpace(startErr.Error()) != checkErr {
				t.Errorf("check and start say different things:\ncheck: %s\nstart: %v", checkErr, startErr)
			}
		})
	}
}

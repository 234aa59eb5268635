package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const hookNames = `
    names:
      - name: db
        role: write
        order: [r1, r2]
        endpoints:
          - {region: r1, addresses: [192.0.2.1]}
          - {region: r2, addresses: [192.0.2.2]}
`

func hookBase() string {
	return strings.Replace(minimal, "  - {name: r1, latitude: 1, longitude: 2}\n",
		"  - {name: r1, latitude: 1, longitude: 2}\n  - {name: r2, latitude: 3, longitude: 4}\n", 1) + hookNames
}

func TestHooksDefaults(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("  s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, hookBase()+`
hooks:
  - name: pager
    webhook: {url: "http://127.0.0.1:9/hook", secret_file: "`+secret+`"}
  - name: promote
    on: [WRITE_PRIMARY]
    names: [DB.example.test]
    command: {argv: [/bin/true, x], env: {PGDATA: /var/lib/pg}}
    retries: 0
audit_log: {path: `+filepath.Join(dir, "audit.jsonl")+`}
`)
	w, cmd := c.Hooks[0], c.Hooks[1]
	if string(w.Webhook.Secret) != "s3cret" {
		t.Errorf("secret %q: want the trimmed file content", w.Webhook.Secret)
	}
	if len(w.On) != 3 || w.Timeout.D() != 5*time.Second || w.Retries != 3 || w.Backoff.D() != time.Second ||
		w.MaxBackoff.D() != time.Minute || w.Queue != 256 {
		t.Errorf("webhook defaults: %+v", w)
	}
	if cmd.On[0] != HookWritePrimary || cmd.Names[0] != "db.example.test." || cmd.Timeout.D() != 30*time.Second || cmd.Retries != 0 {
		t.Errorf("command hook: %+v", cmd)
	}
	if c.AuditLog.MaxBytes != 10<<20 || c.AuditLog.Keep != 5 {
		t.Errorf("audit defaults: %+v", c.AuditLog)
	}
}

func TestHooksErrors(t *testing.T) {
	e := parseErr(t, hookBase()+`
hooks:
  - name: a
    on: [failover]
    webhook: {url: "ftp://x", secret_file: /nonexistent/secret}
    command: {argv: [true]}
  - name: a
    names: [nope.example.test]
    endpoints: ["[bad"]
    states: [sleepy]
    regions: [mars]
    command: {argv: [true], env: {GSLBD_NAME: x}}
    retries: -1
    backoff: 10s
    max_backoff: 1s
    queue: 0
audit_log: {path: /tmp/x, max_bytes: 10, keep: -1}
`)
	msg := e.Error()
	for _, want := range []string{
		`hooks[0].on[0]`, `hooks[0]: set exactly one of webhook and command`,
		`hooks[1].name: duplicate hook name "a"`, `hooks[1].names[0]`, `hooks[1].endpoints[0]`,
		`hooks[1].states[0]`, `hooks[1].regions[0]`, `hooks[1].command.argv[0]`, `hooks[1].command.env.GSLBD_NAME`,
		`hooks[1].retries`, `hooks[1].max_backoff`, `hooks[1].queue`, `audit_log.max_bytes`, `audit_log.keep`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}
	e = parseErr(t, hookBase()+`
hooks:
  - name: w
    webhook: {url: "http://127.0.0.1:9/", secret_file: /nonexistent/secret}
`)
	if !strings.Contains(e.Error(), "hooks[0].webhook.secret_file") {
		t.Errorf("missing secret file not reported:\n%s", e)
	}
}

package config

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// Hook event kinds, the values of Hook.On.
const (
	HookWritePrimary  = "write_primary"  // a write name's active region moved
	HookEndpointState = "endpoint_state" // an endpoint's agreed state changed
	HookRegionDrain   = "region_drain"   // a region was drained or undrained
)

var hookKinds = []string{HookWritePrimary, HookEndpointState, HookRegionDrain}

// Hook defaults and limits.
const (
	defaultWebhookTimeout = 5 * time.Second
	defaultCommandTimeout = 30 * time.Second
	defaultHookRetries    = 3
	maxHookRetries        = 100
	defaultHookBackoff    = time.Second
	defaultHookMaxBackoff = time.Minute
	defaultHookQueue      = 256
	maxHookQueue          = 100000
	maxSecretBytes        = 4096
	defaultAuditMaxBytes  = 10 << 20
	minAuditMaxBytes      = 4096
	defaultAuditKeep      = 5
)

// Hook is one failover hook: a webhook or a command run when a matching
// event happens on this node. Each hook has its own bounded queue and
// worker, so a slow receiver never delays another hook.
type Hook struct {
	// Name identifies the hook in logs and metrics; unique, letters,
	// digits, '-', '_' and '.'. Required.
	Name string `yaml:"name"`
	// On lists the event kinds: write_primary, endpoint_state,
	// region_drain. Default: all three.
	On []string `yaml:"on"`
	// Names limits write_primary and endpoint_state events to these GSLB
	// names (relative to no zone: full names, dot optional). Empty: all.
	Names []string `yaml:"names"`
	// Endpoints limits endpoint_state events to endpoint IDs matching one
	// of these path.Match patterns ("*@app.gslb.example.com"). Empty: all.
	Endpoints []string `yaml:"endpoints"`
	// States limits endpoint_state events to these new states (down,
	// recovering, ready, drained, unknown). Empty: all.
	States []string `yaml:"states"`
	// Regions limits events to those whose from or to region (or drained
	// region) is one of these. Empty: all.
	Regions []string `yaml:"regions"`
	// Webhook or Command (exactly one) says what to do.
	Webhook *Webhook `yaml:"webhook"`
	Command *Command `yaml:"command"`
	// Timeout bounds one attempt. Default 5s for a webhook, 30s for a
	// command.
	Timeout Duration `yaml:"timeout"`
	// Retries is how many times a failed attempt is repeated (0: never).
	// Default 3, at most 100.
	Retries int `yaml:"retries"`
	// Backoff is the wait before the first retry, doubled for each next
	// one up to MaxBackoff. Defaults 1s and 1m.
	Backoff    Duration `yaml:"backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// Queue bounds the events waiting for this hook; when full, a new
	// event is dropped, logged and counted. Default 256.
	Queue int `yaml:"queue"`
}

// Webhook posts the event as JSON.
type Webhook struct {
	// URL is an http:// or https:// URL. Required.
	URL string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 key (surrounding white space is
	// trimmed); with it every request carries X-Gslbd-Signature:
	// sha256=<hex of HMAC(key, body)>. Optional but recommended.
	SecretFile string `yaml:"secret_file"`
	// Secret is SecretFile's content, read by Prepare.
	Secret []byte `yaml:"-"`
}

// Command runs a program with the event in its environment (GSLBD_*) and
// as JSON on its standard input. A zero exit status is success.
type Command struct {
	// Argv is the program (an absolute path) and its arguments. Required.
	Argv []string `yaml:"argv"`
	// Env adds variables to the command's environment, which otherwise
	// holds only PATH and the event's GSLBD_* fields.
	Env map[string]string `yaml:"env"`
}

// AuditLog is the append-only record of admin actions and write-primary
// changes, one JSON object per line, fsynced per entry.
type AuditLog struct {
	// Path of the file; empty disables the audit log.
	Path string `yaml:"path"`
	// MaxBytes rotates the file (to Path.1, Path.2, ...) when the next
	// entry would make it larger. Default 10 MiB, at least 4096.
	MaxBytes int64 `yaml:"max_bytes"`
	// Keep is how many rotated files are kept. Default 5.
	Keep int `yaml:"keep"`
}

func (k *checker) hooks() {
	seen := map[string]bool{}
	gslbNames := map[string]bool{}
	for _, z := range k.c.Zones {
		for _, n := range z.Names {
			gslbNames[n.Name] = true
		}
	}
	for i := range k.c.Hooks {
		h := &k.c.Hooks[i]
		p := fmt.Sprintf("hooks[%d]", i)
		if err := validIdent(h.Name); err != nil {
			k.p.add(p+".name", "%v", err)
		} else if seen[h.Name] {
			k.p.add(p+".name", "duplicate hook name %q", h.Name)
		}
		seen[h.Name] = true
		if len(h.On) == 0 {
			h.On = slices.Clone(hookKinds)
		}
		for j := range h.On {
			h.On[j] = lower(h.On[j])
			k.oneOf(fmt.Sprintf("%s.on[%d]", p, j), h.On[j], hookKinds)
		}
		for j, n := range h.Names {
			fq := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), ".")) + "."
			if !gslbNames[fq] {
				k.p.add(fmt.Sprintf("%s.names[%d]", p, j), "%q is not a configured GSLB name", n)
			}
			h.Names[j] = fq
		}
		for j, pat := range h.Endpoints {
			if _, err := path.Match(pat, ""); err != nil {
				k.p.add(fmt.Sprintf("%s.endpoints[%d]", p, j), "bad pattern %q: %v", pat, err)
			}
		}
		states := []string{"unknown", "down", "recovering", "ready", "drained"}
		for j := range h.States {
			h.States[j] = lower(h.States[j])
			k.oneOf(fmt.Sprintf("%s.states[%d]", p, j), h.States[j], states)
		}
		for j, r := range h.Regions {
			k.knownRegion(fmt.Sprintf("%s.regions[%d]", p, j), r)
		}
		defTimeout := defaultWebhookTimeout
		switch {
		case (h.Webhook == nil) == (h.Command == nil):
			k.p.add(p, "set exactly one of webhook and command")
		case h.Webhook != nil:
			k.webhook(p+".webhook", h.Webhook)
		default:
			defTimeout = defaultCommandTimeout
			k.command(p+".command", h.Command)
		}
		k.dur(p+".timeout", &h.Timeout, defTimeout)
		if h.Retries < 0 || h.Retries > maxHookRetries {
			k.p.add(p+".retries", "must be 0 to %d, got %d", maxHookRetries, h.Retries)
		}
		if !k.p.present(p + ".retries") {
			h.Retries = defaultHookRetries
		}
		k.dur(p+".backoff", &h.Backoff, defaultHookBackoff)
		k.dur(p+".max_backoff", &h.MaxBackoff, defaultHookMaxBackoff)
		if h.MaxBackoff < h.Backoff {
			k.p.add(p+".max_backoff", "%s is below backoff %s", h.MaxBackoff, h.Backoff)
		}
		k.count(p+".queue", &h.Queue, defaultHookQueue)
		if h.Queue > maxHookQueue {
			k.p.add(p+".queue", "must be at most %d, got %d", maxHookQueue, h.Queue)
		}
	}
}

func (k *checker) webhook(p string, w *Webhook) {
	k.httpURL(p+".url", w.URL)
}

func (k *checker) command(p string, c *Command) {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		k.p.add(p+".argv", "must name a program")
		return
	}
	if !strings.HasPrefix(c.Argv[0], "/") {
		k.p.add(p+".argv[0]", "%q must be an absolute path (hooks run without a shell and a PATH search)", c.Argv[0])
	} else if st, err := os.Stat(c.Argv[0]); err != nil {
		k.p.add(p+".argv[0]", "%v", err)
	} else if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		k.p.add(p+".argv[0]", "%s is not an executable file", c.Argv[0])
	}
	for _, name := range sortedKeys(c.Env) {
		if name == "" || strings.ContainsAny(name, "=\x00") || strings.HasPrefix(name, "GSLBD_") {
			k.p.add(p+".env."+name, "bad variable name %q (no '=', not GSLBD_*: those carry the event)", name)
		}
	}
}

func (k *checker) auditLog() {
	a := &k.c.AuditLog
	if a.MaxBytes == 0 {
		a.MaxBytes = defaultAuditMaxBytes
	} else if a.MaxBytes < minAuditMaxBytes {
		k.p.add("audit_log.max_bytes", "must be at least %d, got %d", minAuditMaxBytes, a.MaxBytes)
	}
	if a.Keep == 0 && !k.p.present("audit_log.keep") {
		a.Keep = defaultAuditKeep
	} else if a.Keep < 0 {
		k.p.add("audit_log.keep", "must not be negative, got %d", a.Keep)
	}
}

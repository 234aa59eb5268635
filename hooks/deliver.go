package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// Webhook request headers. The signature covers the exact body bytes.
const (
	HeaderSignature      = "X-Gslbd-Signature" // "sha256=" + hex(HMAC-SHA256(secret, body))
	HeaderIdempotencyKey = "Idempotency-Key"   // Change.ID, the same on every attempt
	HeaderEvent          = "X-Gslbd-Event"     // Change.Kind
	HeaderAttempt        = "X-Gslbd-Attempt"   // 1 for the first attempt
)

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header value in constant time; receivers
// (and the tests) use it.
func Verify(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// maxOutput bounds what is kept of a failed command's output or a failed
// webhook's response body for the log.
const maxOutput = 2048

func (d *Dispatcher) post(ctx context.Context, w *config.Webhook, c gslb.Change, attempt int) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gslbd-hooks")
	req.Header.Set(HeaderIdempotencyKey, c.ID)
	req.Header.Set(HeaderEvent, c.Kind)
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	if len(w.Secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(w.Secret, body))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// Env returns the GSLBD_* variables a command hook gets for c.
func Env(c gslb.Change, attempt int) []string {
	vars := map[string]string{
		"GSLBD_EVENT_ID": c.ID,
		"GSLBD_KIND":     c.Kind,
		"GSLBD_NODE":     c.Node,
		"GSLBD_AT":       c.At.UTC().Format(time.RFC3339Nano),
		"GSLBD_NAME":     c.Name,
		"GSLBD_ENDPOINT": c.Endpoint,
		"GSLBD_REGION":   c.Region,
		"GSLBD_FROM":     c.From,
		"GSLBD_TO":       c.To,
		"GSLBD_TERM":     strconv.FormatUint(c.Term, 10),
		"GSLBD_REASON":   c.Reason,
		"GSLBD_ATTEMPT":  strconv.Itoa(attempt),
	}
	if c.LagSeconds != nil {
		vars["GSLBD_LAG_SECONDS"] = strconv.FormatFloat(*c.LagSeconds, 'f', -1, 64)
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// runCommand runs the command in its own process group, so a timeout
// kills whatever it started too (a shell script's children).
func runCommand(ctx context.Context, cc *config.Command, c gslb.Change, attempt int) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, cc.Argv[0], cc.Argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Env(c, attempt)...)
	for _, k := range sortedKeys(cc.Env) {
		cmd.Env = append(cmd.Env, k+"="+cc.Env[k])
	}
	cmd.Stdin = bytes.NewReader(body)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("command %s: %w (output: %q)", cc.Argv[0], ctx.Err(), out.String())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("command %s exited %d: %q", cc.Argv[0], ee.ExitCode(), out.String())
		}
		return fmt.Errorf("command %s: %w", cc.Argv[0], err)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// limitedBuffer keeps the first maxOutput bytes written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return strings.TrimSpace(string(l.b)) }

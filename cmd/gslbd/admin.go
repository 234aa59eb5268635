package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gslbd/gslbd/config"
)

// tokenEnv names the environment variable the admin subcommands read the
// admin token from when -token-file is not given.
const tokenEnv = "GSLBD_ADMIN_TOKEN"

// adminClient is how the admin subcommands reach a node's API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// adminFlags are the connection flags every admin subcommand shares.
type adminFlags struct {
	api, configPath, tokenFile string
}

func (a *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.api, "api", "", "base URL of the node's API (default: from -config's listen.http, else http://127.0.0.1:8053)")
	fs.StringVar(&a.configPath, "config", "", "the node's config file: its listen.http and admin token are used")
	fs.StringVar(&a.tokenFile, "token-file", "", "file holding the admin token (default: $"+tokenEnv+", else the config's admin token)")
}

// client resolves the API URL and the token: -token-file, then the
// environment, then the config's admin.token / admin.token_file.
func (a *adminFlags) client() (*adminClient, error) {
	var cfg *config.Config
	if a.configPath != "" {
		c, err := config.Load(a.configPath)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	base := a.api
	if base == "" {
		base = "http://127.0.0.1:8053"
		if cfg != nil && cfg.Listen.HTTP != "" {
			base = "http://" + cfg.Listen.HTTP
		}
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-api %q is not an http:// or https:// URL", base)
	}
	var token string
	switch {
	case a.tokenFile != "":
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("-token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("-token-file %s is empty", a.tokenFile)
		}
	case os.Getenv(tokenEnv) != "":
		token = strings.TrimSpace(os.Getenv(tokenEnv))
	case cfg != nil:
		token = cfg.Admin.Secret // config.Load read admin.token_file
	}
	return &adminClient{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{Timeout: 15 * time.Second}}, nil
}

// do sends one request; a non-2xx answer is an error carrying the API's
// error text.
func (c *adminClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if resp.StatusCode == http.StatusUnauthorized && c.token == "" {
			msg += " (give the token with -token-file, $" + tokenEnv + " or -config)"
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	return b, nil
}

// runDrain implements "gslbd drain" and "gslbd undrain": a region or one
// endpoint, now or as a maintenance window, through the local node's API.
func runDrain(ctx context.Context, args []string, drained bool, stdout, stderr io.Writer) int {
	name := "gslbd undrain"
	if drained {
		name = "gslbd drain"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	region := fs.String("region", "", "drain every endpoint of this region, for every name, on every node")
	endpoint := fs.String("endpoint", "", "drain one endpoint (its ID, e.g. eu-west@app.gslb.example.com)")
	reason := fs.String("reason", "", "why (shown in the API, the dashboard and the audit log)")
	var from, until timeFlag
	var in, dur time.Duration
	if drained {
		fs.Var(&from, "from", "start of a maintenance window (RFC 3339, e.g. 2026-03-01T22:00:00Z; default now)")
		fs.Var(&until, "until", "end of the window (RFC 3339); the drain lifts itself then")
		fs.DurationVar(&in, "in", 0, "start the window after this long (instead of -from)")
		fs.DurationVar(&dur, "for", 0, "end the window this long after it starts (instead of -until)")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s (-region R | -endpoint ID) [flags]\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*region == "") == (*endpoint == "") {
		fmt.Fprintf(stderr, "%s: give exactly one of -region and -endpoint, and no other arguments\n", name)
		return 2
	}
	if (in != 0 && !from.t.IsZero()) || (dur != 0 && !until.t.IsZero()) || in < 0 || dur < 0 {
		fmt.Fprintf(stderr, "%s: use -from or -in, -until or -for, with positive durations\n", name)
		return 2
	}
	now := time.Now()
	req := map[string]any{}
	if *reason != "" {
		req["reason"] = *reason
	}
	start := from.t
	if in > 0 {
		start = now.Add(in)
	}
	if !start.IsZero() {
		req["from"] = start.UTC().Format(time.RFC3339Nano)
	}
	end := until.t
	if dur > 0 {
		if start.IsZero() {
			start = now
		}
		end = start.Add(dur)
	}
	if !end.IsZero() {
		req["until"] = end.UTC().Format(time.RFC3339Nano)
	}
	c, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	action := "undrain"
	if drained {
		action = "drain"
	}
	path := "/api/v1/regions/" + url.PathEscape(*region) + "/" + action
	if *endpoint != "" {
		path = "/api/v1/endpoints/" + url.PathEscape(*endpoint) + "/" + action
	}
	b, err := c.do(ctx, http.MethodPost, path, req)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	var resp struct {
		Region    string   `json:"region"`
		ID        string   `json:"id"`
		Status    string   `json:"status"`
		From      string   `json:"from"`
		Until     string   `json:"until"`
		Endpoints []string `json:"endpoints"`
	}
	_ = json.Unmarshal(b, &resp)
	target := "endpoint " + *endpoint
	if *region != "" {
		target = "region " + *region
	}
	status := resp.Status
	if status == "" {
		status = action + "ed"
	}
	fmt.Fprintf(stdout, "%s: %s", target, status)
	if resp.From != "" {
		fmt.Fprintf(stdout, " from %s", resp.From)
	}
	if resp.Until != "" {
		fmt.Fprintf(stdout, " until %s", resp.Until)
	}
	if *region != "" {
		fmt.Fprintf(stdout, " (%d endpoint(s): %s)", len(resp.Endpoints), strings.Join(resp.Endpoints, " "))
	}
	fmt.Fprintln(stdout)
	return 0
}

// runAudit implements "gslbd audit": the node's newest audit entries as
// JSON lines, oldest first.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gslbd audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	n := fs.Int("n", 20, "how many entries (1-500)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *n < 1 || *n > 500 {
		fmt.Fprintln(stderr, "gslbd audit: -n must be 1 to 500, and no arguments")
		return 2
	}
	c, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "gslbd audit: %v\n", err)
		return 1
	}
	b, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/audit?limit=%d", *n), nil)
	if err != nil {
		fmt.Fprintf(stderr, "gslbd audit: %v\n", err)
		return 1
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		fmt.Fprintf(stderr, "gslbd audit: bad answer: %v\n", err)
		return 1
	}
	for _, e := range entries {
		var buf bytes.Buffer
		if json.Compact(&buf, e) == nil {
			fmt.Fprintln(stdout, buf.String())
		}
	}
	return 0
}

// timeFlag is an RFC 3339 time flag.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(v string) error {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return errors.New("want an RFC 3339 time such as 2026-03-01T22:00:00Z")
	}
	f.t = t
	return nil
}

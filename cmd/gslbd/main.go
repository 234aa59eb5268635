package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gslbd/gslbd/config"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// flags holds the command line of a serving gslbd.
type flags struct {
	configPath string
	dev        bool
	dnsAddrs   listFlag
	httpAddrs  listFlag
	logLevel   string
	logFormat  string
	lameDuck   time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, so every deferred stop runs.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runCheck(args[1:], stdout, stderr)
		case "simulate":
			return runSimulate(context.Background(), args[1:], stdout, stderr)
		case "drain", "undrain":
			return runDrain(context.Background(), args[1:], args[0] == "drain", stdout, stderr)
		case "audit":
			return runAudit(context.Background(), args[1:], stdout, stderr)
		}
	}
	var f flags
	fs := flag.NewFlagSet("gslbd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configPath, "config", "", "config file (YAML)")
	fs.BoolVar(&f.dev, "dev", false, "run one node on loopback with the embedded example config and simulated regions")
	fs.Var(&f.dnsAddrs, "dns", "DNS listen address host:port, UDP and TCP (repeatable; overrides listen.dns)")
	fs.Var(&f.httpAddrs, "http", "HTTP listen address host:port (overrides listen.http; the last one wins)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "", "json or console (default: console with -dev, else json)")
	fs.DurationVar(&f.lameDuck, "lameduck", 2*time.Second, "how long to keep answering after SIGTERM while /readyz says 503")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gslbd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if f.configPath == "" && !f.dev {
		fmt.Fprintln(stderr, "gslbd: -config FILE or -dev is required")
		return 2
	}
	if f.configPath != "" && f.dev {
		fmt.Fprintln(stderr, "gslbd: -config and -dev exclude each other")
		return 2
	}
	log, err := newLogger(f.logLevel, f.logFormat, f.dev, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gslbd: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if err := serve(ctx, f, hup, log, stdout); err != nil {
		log.Error("gslbd stopped with an error", zap.Error(err))
		var cerr *config.Error
		if errors.As(err, &cerr) {
			fmt.Fprintln(stderr, cerr.Error())
		}
		return 1
	}
	return 0
}

// runCheck implements "gslbd check -config FILE": the same preparation
// as start and reload, without serving.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gslbd check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file to check")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "gslbd check: -config FILE is required")
		return 2
	}
	// Exactly what start and every reload run: config.Prepare (defaults,
	// validation, every named file read and checked) and the locator.
	src := &configSource{path: *path}
	cfg, _, err := src.load()
	if err != nil {
		fmt.Fprintln(stderr, err.Error())
		return 1
	}
	fmt.Fprintln(stdout, summary(cfg))
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	return 0
}

// summary is the one-line description of a valid config.
func summary(cfg *config.Config) string {
	var names, records, endpoints int
	for _, z := range cfg.Zones {
		names += len(z.Names)
		records += len(z.Records)
		for _, n := range z.Names {
			endpoints += len(n.Endpoints)
		}
	}
	return fmt.Sprintf("%s: ok: %d zone(s), %d static record(s), %d GSLB name(s), %d endpoint(s), %d region(s), config hash %.12s",
		cfg.Source, len(cfg.Zones), records, names, endpoints, len(cfg.Regions), cfg.Hash)
}

func newLogger(level, format string, dev bool, w io.Writer) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad -log-level %q", level)
	}
	if format == "" {
		format = "json"
		if dev {
			format = "console"
		}
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("bad -log-format %q (json or console)", format)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core), nil
}

package dashboardtest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumCandidates are tried in order; Debian ships /usr/bin/chromium.
var chromiumCandidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// ChromiumPath returns the browser binary: $GSLBD_CHROMIUM when set, else
// the first candidate found, else "".
func ChromiumPath() string {
	if p := os.Getenv("GSLBD_CHROMIUM"); p != "" {
		return p
	}
	for _, c := range chromiumCandidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// NewBrowser starts a headless Chromium with a fresh profile in a temp dir
// and returns a chromedp context for it. Without Chromium the test is
// skipped, or fails when CI=true. Cancelling the returned func (also done
// at test cleanup) closes the browser; callers add their own deadline with
// context.WithTimeout on the returned context.
func NewBrowser(t testing.TB) (context.Context, context.CancelFunc) {
	t.Helper()
	path := ChromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found (install Debian's chromium package); required under CI=true")
		}
		t.Skip("chromium not found; install Debian's chromium package to run the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1400, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	cancel := func() {
		cancelCtx()
		cancelAlloc()
	}
	t.Cleanup(cancel)
	// Start the browser now so a broken install fails here with a clear
	// message instead of inside the first action.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("starting chromium %s: %v", path, err)
	}
	return ctx, cancel
}

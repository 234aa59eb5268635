package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gslbd/gslbd/dashboard/dashboardtest"
	"github.com/gslbd/gslbd/gslb"
)

// The browser test drives the dashboard of a real `gslbd -dev` process
// through headless Chromium: what the operator clicks must reach the
// simulated backends, the drain API and, in the end, the DNS answers.

// devTokenLine is the line of the -dev help text that carries the token.
var devTokenLine = regexp.MustCompile(`(?m)^  admin token:  ([0-9a-f]+)\s*$`)

// browserJS quotes s as a JavaScript string literal.
func browserJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// browserRow selects inside the endpoint row of id.
func browserRow(id, inner string) string {
	return fmt.Sprintf(`tr[data-endpoint=%s] %s`, browserJS(id), inner)
}

// browserPage runs chromedp steps against one page and fails the test with
// the element's current text when a wait times out, so a failure says what
// the page showed instead of only "deadline exceeded".
type browserPage struct {
	t   *testing.T
	ctx context.Context
}

func (p browserPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the trimmed text of the first element matching sel, or a
// note that there is none; it never waits for the element to appear.
func (p browserPage) text(sel string) string {
	p.t.Helper()
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const e = document.querySelector(%s); return e ? e.textContent.trim() : "(no element)"; })()`,
		browserJS(sel))))
	if err != nil {
		return "(page error: " + err.Error() + ")"
	}
	return got
}

// waitText polls in the page (the page re-renders every second) until the
// text of the first element matching sel equals want.
func (p browserPage) waitText(what, sel, want string, within time.Duration) {
	p.t.Helper()
	err := chromedp.Do(p.ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(() => { const e = document.querySelector(%s); return !!e && e.textContent.trim() === %s; })()`,
		browserJS(sel), browserJS(want)),
		chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		p.t.Fatalf("%s: %s did not show %q within %v (shows %q): %v", what, sel, want, within, p.text(sel), err)
	}
}

// waitContains polls until the element's text contains want.
func (p browserPage) waitContains(what, sel, want string, within time.Duration) {
	p.t.Helper()
	err := chromedp.Do(p.ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(() => { const e = document.querySelector(%s); return !!e && e.textContent.includes(%s); })()`,
		browserJS(sel), browserJS(want)),
		chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		p.t.Fatalf("%s: %s did not contain %q within %v (shows %q): %v", what, sel, want, within, p.text(sel), err)
	}
}

// adminTokenOf waits (bounded) for the -dev help text and returns its token.
func adminTokenOf(t *testing.T, n *node) string {
	t.Helper()
	var token string
	waitFor(t, "the admin token in the -dev help text", 10*time.Second, func() bool {
		if m := devTokenLine.FindStringSubmatch(n.stdout.String()); m != nil {
			token = m[1]
			return true
		}
		return false
	})
	return token
}

// TestBrowserDashboard is issue 6 against the real binary: the dashboard
// of `gslbd -dev` shows the regions and endpoints, its dev panel kills and
// revives a simulated backend, and its drain button takes an endpoint out
// of the DNS answers and puts it back.
func TestBrowserDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	// The browser first: without Chromium the test skips before building.
	browser, _ := dashboardtest.NewBrowser(t)
	ctx, cancel := context.WithTimeout(browser, 4*time.Minute)
	defer cancel()
	p := browserPage{t: t, ctx: ctx}

	n := startNode(t, "-dev")
	token := adminTokenOf(t, n)

	const euApp = "eu-west@app.gslb.test"
	regions := []string{"us-east", "eu-west", "ap-southeast"}
	n.waitDevReady()

	p.do("load the dashboard", chromedp.Navigate("http://"+n.http+"/"))
	for _, r := range regions {
		sel := fmt.Sprintf(`#regions tr[data-region=%s]`, browserJS(r))
		p.waitText("region "+r+" listed", sel+" td:first-child", r, 20*time.Second)
		p.waitText("region "+r+" ready", sel+" .best", "ready", 20*time.Second)
		p.waitText("app endpoint in "+r, browserRow(r+"@app.gslb.test", ".state"), "ready", 20*time.Second)
		p.waitText("app endpoint region of "+r, browserRow(r+"@app.gslb.test", ".region"), r, 20*time.Second)
	}
	p.waitContains("eu-west's answers", browserRow(euApp, ".answers"), euWest, 20*time.Second)
	if got := n.answersFor("app.gslb.test", london); !equalAddrs(got, euWest) {
		t.Fatalf("before any click, London got %v, want %s", got, euWest)
	}

	// Kill eu-west's backend in the page: its probes fail and the page
	// shows the endpoint down.
	devRow := `[data-dev-region="eu-west"]`
	p.do("kill eu-west's backend",
		chromedp.WaitVisible(chromedp.CSS(devRow+" button.kill")),
		chromedp.Click(chromedp.CSS(devRow+" button.kill")),
	)
	p.waitText("the dev panel shows the backend dead", devRow+" .dev-alive", "dead", 20*time.Second)
	p.waitText("eu-west goes down in the page", browserRow(euApp, ".state"), "down", 20*time.Second)
	if st := n.endpoint(euApp).State; st != gslb.Down {
		t.Errorf("the page shows %s down, the API says %v", euApp, st)
	}
	waitFor(t, "London to leave eu-west", 15*time.Second, func() bool {
		return equalAddrs(n.answersFor("app.gslb.test", london), usEast)
	})

	// Revive with lag 0, both in the page; it is readmitted after the hold.
	p.do("revive eu-west's backend with lag 0",
		chromedp.Click(chromedp.CSS(devRow+" button.revive")),
		chromedp.SetValue(chromedp.CSS(devRow+" input.lag"), "0"),
		chromedp.Click(chromedp.CSS(devRow+" button.setlag")),
	)
	p.waitText("the dev panel shows the backend alive", devRow+" .dev-alive", "alive", 20*time.Second)
	p.waitText("eu-west back to ready in the page", browserRow(euApp, ".state"), "ready", 30*time.Second)
	waitFor(t, "London back on eu-west", 15*time.Second, func() bool {
		return equalAddrs(n.answersFor("app.gslb.test", london), euWest)
	})

	// Drain in the page with the token from the prompt: London leaves
	// eu-west although its backend stays healthy.
	p.do("drain eu-west",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); window.prompt = () => `+browserJS(token)+`;`),
		chromedp.Click(chromedp.CSS(browserRow(euApp, "button.drain"))),
	)
	p.waitContains("the drain is confirmed", "#message", "Drained "+euApp, 20*time.Second)
	waitFor(t, "the drain to take eu-west out of London's answers", 15*time.Second, func() bool {
		got := n.answersFor("app.gslb.test", london)
		return len(got) > 0 && !equalAddrs(got, euWest)
	})
	if got := n.answersFor("app.gslb.test", london); !equalAddrs(got, usEast) {
		t.Errorf("with eu-west drained, London got %v, want the next-nearest %s", got, usEast)
	}
	p.waitText("eu-west drained in the page", browserRow(euApp, ".state"), "drained", 20*time.Second)
	p.waitContains("who drained it", browserRow(euApp, ".reason"), "drained by", 20*time.Second)

	// Undrain: the token is kept for the session, so no second prompt.
	p.do("undrain eu-west",
		chromedp.Evaluate[chromedp.Void](`window.prompt = () => { throw new Error("asked for the token twice"); };`),
		chromedp.Click(chromedp.CSS(browserRow(euApp, "button.undrain"))),
	)
	p.waitContains("the undrain is confirmed", "#message", "Undrained "+euApp, 20*time.Second)
	p.waitText("eu-west ready again in the page", browserRow(euApp, ".state"), "ready", 30*time.Second)
	waitFor(t, "London back on eu-west after the undrain", 15*time.Second, func() bool {
		return equalAddrs(n.answersFor("app.gslb.test", london), euWest)
	})
	p.waitContains("the events list the changes", "#events", euApp, 20*time.Second)

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 means PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(shot) == 0 {
		t.Error("empty screenshot")
	}
	if path := os.Getenv("GSLBD_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Errorf("writing screenshot: %v", err)
		}
	}
}

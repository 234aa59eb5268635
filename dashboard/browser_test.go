package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gslbd/gslbd/dashboard/dashboardtest"
	"github.com/gslbd/gslbd/gslb"
)

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitText polls in the page until the text of the first element matching
// sel equals want; the page re-renders every second.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(() => { const e = document.querySelector(%s); return !!e && e.textContent.trim() === %s; })()`,
		jsString(sel), jsString(want)), chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

// waitContains polls until the element's text contains want.
func waitContains(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(() => { const e = document.querySelector(%s); return !!e && e.textContent.includes(%s); })()`,
		jsString(sel), jsString(want)), chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func rowSel(id, inner string) string {
	return fmt.Sprintf(`tr[data-endpoint=%s] %s`, jsString(id), inner)
}

func TestBrowserDashboard(t *testing.T) {
	browser, _ := dashboardtest.NewBrowser(t)

	store := testStore(t)
	drain := &fakeDrain{}
	dev := newFakeDev()
	srv := httptest.NewServer(New(Options{
		Source:  store,
		Token:   func() string { return testToken },
		Drain:   drain.Drain,
		Dev:     dev,
		Cluster: func() any { return map[string]any{"mode": "joined"} },
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	run := stepRunner(t, ctx)

	run("load the page",
		chromedp.Navigate(srv.URL+"/"),
		waitText(rowSel(idEU, ".state"), "ready"),
		waitText(rowSel(idUS, ".state"), "down"),
		waitText(rowSel(idAP, ".state"), "recovering"),
		waitText("#node", "node-a"),
		waitContains(rowSel(idAP, ".lag"), "30 s"),
		waitContains(rowSel(idUS, ".observations"), "nodes disagree"),
		waitText(`#regions tr[data-region="eu-west"] .best`, "ready"),
	)

	// A new Snapshot shows up without a reload of the page.
	store.Swap(store.Load().WithView(testView(gslb.Down), testNow.Add(5*time.Second)))
	run("see eu-west go down", waitText(rowSel(idEU, ".state"), "down"))

	// Drain with a token from window.prompt.
	run("drain eu-west",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); window.prompt = () => `+jsString(testToken)+`;`),
		chromedp.Click(chromedp.CSS(rowSel(idEU, "button.drain"))),
		waitContains("#message", "Drained "+idEU),
	)
	eventually(t, "the drain call", func() bool { return len(drain.Calls()) == 1 })
	if got := drain.Calls()[0]; got != (drainCall{idEU, true}) {
		t.Fatalf("drain call %+v, want %s drained", got, idEU)
	}

	// The token is kept for the session: undrain asks no more.
	run("undrain eu-west",
		chromedp.Evaluate[chromedp.Void](`window.prompt = () => { throw new Error("asked twice"); };`),
		chromedp.Click(chromedp.CSS(rowSel(idEU, "button.undrain"))),
		waitContains("#message", "Undrained "+idEU),
	)
	eventually(t, "the undrain call", func() bool { return len(drain.Calls()) == 2 })
	if got := drain.Calls()[1]; got != (drainCall{idEU, false}) {
		t.Fatalf("undrain call %+v", got)
	}

	// A wrong token shows the 401 and reaches nothing.
	run("drain with a wrong token",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); window.prompt = () => "wrong";`),
		chromedp.Click(chromedp.CSS(rowSel(idUS, "button.drain"))),
		waitContains("#message", "401"),
	)
	if n := len(drain.Calls()); n != 2 {
		t.Fatalf("a wrong token reached Drain: %+v", drain.Calls())
	}

	// The -dev panel steers the simulated backends.
	devRow := `[data-dev-region="eu-west"]`
	run("kill eu-west's backend",
		chromedp.WaitVisible(chromedp.CSS(devRow+" button.kill")),
		chromedp.Click(chromedp.CSS(devRow+" button.kill")),
	)
	eventually(t, "eu-west killed", func() bool { return !dev.Region("eu-west").Alive })
	run("see the backend dead", waitText(devRow+" .dev-alive", "dead"))
	run("set eu-west's lag",
		chromedp.SetValue(chromedp.CSS(devRow+" input.lag"), "30"),
		chromedp.Click(chromedp.CSS(devRow+" button.setlag")),
	)
	eventually(t, "eu-west lag 30", func() bool { return dev.Region("eu-west").LagSeconds == 30 })
	run("revive eu-west's backend", chromedp.Click(chromedp.CSS(devRow+" button.revive")))
	eventually(t, "eu-west revived", func() bool { return dev.Region("eu-west").Alive })

	// The explain form shows the decision.
	run("explain",
		chromedp.SetValue(chromedp.ID("explain-name"), "www.gslb.example.com"),
		chromedp.SetValue(chromedp.ID("explain-client"), "81.2.69.160"),
		chromedp.Click(chromedp.CSS(`#explain-form button[type=submit]`)),
		waitContains("#explain-result", "www.gslb.example.com."),
		waitContains("#explain-result", idAP),
	)

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if dir := os.Getenv("GSLBD_SCREENSHOT"); dir != "" {
		if err := os.WriteFile(dir, shot, 0o644); err != nil {
			t.Errorf("writing screenshot: %v", err)
		}
	}
	if len(shot) == 0 {
		t.Error("empty screenshot")
	}
}

// TestBrowserDevPanelHidden checks the -dev panel stays hidden without Dev.
func TestBrowserDevPanelHidden(t *testing.T) {
	browser, _ := dashboardtest.NewBrowser(t)
	srv := httptest.NewServer(New(Options{Source: testStore(t)}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		waitText(rowSel(idEU, ".state"), "ready"),
	); err != nil {
		t.Fatal(err)
	}
	// Each poll round asks /api/v1/state and /api/v1/dev/regions together
	// and rewrites the connection line when done; a changed line means a
	// whole round, dev request included, has finished.
	first, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("conn")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](
		`document.getElementById("conn").textContent !== `+jsString(first),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatal(err)
	}
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("dev").hidden`))
	if err != nil {
		t.Fatal(err)
	}
	if !hidden {
		t.Error("the -dev panel is visible without Dev")
	}
}

// TestBrowserNeverInjectsHTML feeds the page reasons, node names and
// events holding markup, as a probe error or a peer's gossip could, and
// checks that the page shows them as text and runs none of it.
func TestBrowserNeverInjectsHTML(t *testing.T) {
	browser, _ := dashboardtest.NewBrowser(t)
	const (
		evil     = `<img src=x onerror="window.__xss=1"><b id=injected>bold</b>`
		evilNode = `<svg onload="window.__xss=2">`
	)
	view := testView(gslb.Ready)
	view.Members = append(view.Members, gslb.Member{Name: evilNode, Addr: `"><script>window.__xss=3</script>`, Alive: true})
	for id, es := range view.Targets {
		es.Reason = evil
		o := es.Observers["node-a"]
		o.Reason = evil
		o.Node = evilNode
		es.Observers = map[string]gslb.Observation{evilNode: o}
		view.Targets[id] = es
	}
	store := testStore(t)
	// A second View changes eu-west's state, so the events list shows a
	// reason with markup too.
	down := view
	down.Targets = map[string]gslb.TargetState{}
	for id, es := range view.Targets {
		if id == idEU {
			es.State = gslb.Down
		}
		down.Targets[id] = es
	}
	store.Swap(store.Load().WithView(view, testNow.Add(time.Second)).WithView(down, testNow.Add(2*time.Second)))
	srv := httptest.NewServer(New(Options{Source: store}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		waitText(rowSel(idEU, ".state"), "down"),
		waitContains(rowSel(idEU, ".reason"), evil),
		waitContains(rowSel(idEU, ".observations"), evilNode),
		waitContains("#members", evilNode),
		waitContains("#events", evil),
	); err != nil {
		t.Fatal(err)
	}
	injected, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`JSON.stringify({xss: window.__xss || 0, img: document.querySelectorAll("main img, header img").length,
		  svg: document.querySelectorAll("svg:not(#map)").length, b: !!document.getElementById("injected"),
		  script: document.querySelectorAll("script").length})`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"xss":0,"img":0,"svg":0,"b":false,"script":1}`; injected != want {
		t.Errorf("markup from the API reached the DOM: %s, want %s", injected, want)
	}
}

// TestBrowserStalledServerShowsLost: a node that accepts the connection but
// never answers must not leave the page claiming to be live; the request
// times out, the page says so, and it recovers once answers come back.
func TestBrowserStalledServerShowsLost(t *testing.T) {
	browser, _ := dashboardtest.NewBrowser(t)
	var stalled atomic.Bool
	release := make(chan struct{})
	h := New(Options{Source: testStore(t)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stalled.Load() && r.URL.Path == "/api/v1/state" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)

	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		waitContains("#conn", "live"),
	); err != nil {
		t.Fatal(err)
	}
	stalled.Store(true)
	if err := chromedp.Do(ctx,
		waitContains("#conn", "connection lost"),
		chromedp.Poll[chromedp.Void](`document.body.classList.contains("stale")`, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("a stalled server never showed as lost: %v", err)
	}
	stalled.Store(false)
	unblock()
	if err := chromedp.Do(ctx,
		waitContains("#conn", "live"),
		chromedp.Poll[chromedp.Void](`!document.body.classList.contains("stale")`, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("the page did not recover: %v", err)
	}
}

// TestBrowserSetActive: a write name's non-active rows offer "Make
// active", which posts the region with the token; read names never do.
func TestBrowserSetActive(t *testing.T) {
	browser, _ := dashboardtest.NewBrowser(t)
	fa := &fakeActive{}
	srv := httptest.NewServer(New(Options{Source: writeStore(t), Token: func() string { return testToken }, SetActive: fa.SetActive}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	const usDB, euDB = "us-east@db.gslb.example.com", "eu-west@db.gslb.example.com"
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		waitContains(rowSel(euDB, ".id"), "active"),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => {
			const vis = id => !document.querySelector('tr[data-endpoint="' + id + '"] button.activate').hidden;
			return vis(%s) && !vis(%s) && !vis(%s);
		})()`, jsString(usDB), jsString(euDB), jsString(idEU)), chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); window.prompt = () => `+jsString(testToken)+`;`),
		chromedp.Click(chromedp.CSS(rowSel(usDB, "button.activate"))),
		waitContains("#message", "us-east is now the active region of db.gslb.example.com."),
	); err != nil {
		t.Fatal(err)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if len(fa.calls) != 1 || fa.calls[0] != [2]string{"db.gslb.example.com.", "us-east"} {
		t.Fatalf("SetActive calls %v", fa.calls)
	}
}

// stepRunner runs a named group of browser steps, failing the test with
// the group's name, so a failure says which part of the story broke.
func stepRunner(t *testing.T, ctx context.Context) func(what string, steps ...chromedp.Action[chromedp.Void]) {
	return func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

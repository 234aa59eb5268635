package dashboard

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gslbd/gslbd/dashboard/dashboardtest"
	"github.com/gslbd/gslbd/gslb"
)

// TestBrowserRegionDrain: the evacuation form drains and undrains a
// region with a reason, and the drains list shows a scheduled window.
func TestBrowserRegionDrain(t *testing.T) {
	browser, _ := dashboardtest.NewBrowser(t)
	store := testStore(t)
	drains := &drainLog{}
	srv := httptest.NewServer(New(Options{Source: store, Token: func() string { return testToken }, Drain: drains.Drain}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	run := stepRunner(t, ctx)
	run("load the page",
		chromedp.Navigate(srv.URL+"/"),
		waitText(rowSel(idEU, ".state"), "ready"),
		waitContains("#drains", "no drains or maintenance windows"),
		waitContains("#drain-region", "us-east"),
	)
	run("drain us-east with a reason",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); window.prompt = () => `+jsString(testToken)+`;`),
		chromedp.SetValue(chromedp.CSS("#drain-region"), "us-east"),
		chromedp.SendKeys(chromedp.CSS("#drain-reason"), "evacuate"),
		chromedp.Click(chromedp.CSS("#drain-region-btn")),
		waitContains("#message", "Drained region us-east"),
	)
	eventually(t, "the region drain call", func() bool { return len(drains.calls()) == 1 })
	if d := drains.calls()[0]; d.Region != "us-east" || !d.Drained || d.Reason != "evacuate" || d.Endpoint != "" {
		t.Fatalf("drain call %+v", d)
	}
	run("undrain us-east",
		chromedp.Click(chromedp.CSS("#undrain-region-btn")),
		waitContains("#message", "Undrained region us-east"),
	)
	eventually(t, "the undrain call", func() bool { return len(drains.calls()) == 2 })
	if d := drains.calls()[1]; d.Region != "us-east" || d.Drained {
		t.Fatalf("undrain call %+v", d)
	}

	// A window gossiped from another node shows as scheduled.
	v := testView(gslb.Ready)
	v.RegionDrains = map[string]gslb.Drain{"ap-south": {Region: "ap-south", Drained: true, At: testNow, By: "node-b",
		From: time.Now().Add(time.Hour), Until: time.Now().Add(2 * time.Hour), Reason: "patch window"}}
	store.Swap(store.Load().WithView(v, testNow.Add(time.Second)))
	run("see the scheduled window",
		waitContains(`#drains tr[data-drain="region:ap-south"]`, "scheduled"),
		waitContains(`#regions tr[data-region="ap-south"]`, "window scheduled"),
		waitContains(`#drains tr[data-drain="region:ap-south"]`, "patch window"),
	)
}

// Package dashboardtest holds test helpers for driving the dashboard page
// in a headless browser; cmd/gslbd tests reuse it. It imports nothing of
// gslbd and starts one Chromium process per NewBrowser call, owned by the
// returned context.
package dashboardtest

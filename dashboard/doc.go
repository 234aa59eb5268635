// Package dashboard serves gslbd's operator HTTP surface: the health
// endpoints, Prometheus metrics, the JSON API and the one-page dashboard.
//
// Routes (the JSON shapes are the stable, documented API):
//
//	GET  /                                the dashboard (static/index.html, embedded; polls the API every second,
//	                                      each request with a deadline so a stalled node shows as lost)
//	GET  /livez                           200 "ok" once a Snapshot is loaded, else 503
//	GET  /readyz                          200 "ready", or 503 with one unmet gate per line
//	GET  /metrics                         Prometheus text format (404 when Options.Gatherer is nil)
//	GET  /api/v1/state                    StateResponse: node, config, last reload, cluster, regions, endpoints, events, drains
//	GET  /api/v1/explain?name=N&client=IP[&type=A]
//	                                      gslb.Explanation of the answer for that client (400 on bad params)
//	POST /api/v1/endpoints/{id}/drain     admin: take an endpoint out of answers
//	POST /api/v1/endpoints/{id}/undrain   admin: put it back
//	POST /api/v1/regions/{region}/drain   admin: every endpoint of the region, every name
//	POST /api/v1/regions/{region}/undrain admin: put the region back
//	                                      (drain bodies, optional: {"reason", "from", "until"}; a
//	                                      from/until window starts and ends by itself)
//	GET  /api/v1/audit[?limit=N]          the newest audit log entries, newest last
//	POST /api/v1/names/{name}/active      admin: body {"region": R}: move a write name to R (a region in its
//	                                      order) as the next term; 404 for a name that is not a write name,
//	                                      400 for a region outside its order, 409 when the cluster refuses it
//	GET  /api/v1/dev/regions              -dev only: the simulated backends
//	POST /api/v1/dev/regions/{region}     -dev only: body {"alive": false} and/or {"lag_seconds": 30}
//
// Admin actions need "Authorization: Bearer <token>": 403 when no token is
// configured, 401 (with WWW-Authenticate) when it is missing or wrong, 404
// for an unknown endpoint ID. The token is compared in constant time. The
// -dev routes deliberately need no token: they exist only with -dev, whose
// HTTP listener is on loopback, and they only steer the in-process
// simulated backends, so a plain curl from the README works. Every
// state-changing request that a browser marks as cross-site (Sec-Fetch-Site,
// or an Origin that is not the Host) is refused with 403, so a page on
// another site cannot drive them; clients that send neither header are
// unaffected. Errors are JSON objects {"error": "..."}.
//
// The package owns no state of its own besides the request counter
// gslbd_http_requests_total{path,code} (path is the route pattern, never
// the raw URL, so label values stay bounded). Every request loads the
// current immutable gslb.Snapshot once from Options.Source and reads only
// that, so handlers run concurrently without locks; actions that change
// state (drain, set-active, dev backends) go through the funcs and interfaces that
// cmd/gslbd passes in Options, which must be safe for concurrent use.
//
// Imports: of gslbd's packages only gslb (config types arrive through gslb
// values). It must not import dns, health, cluster or cmd.
package dashboard

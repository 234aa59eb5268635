package dashboard

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// ErrInvalid is what Options.Drain or Options.SetActive return (possibly
// wrapped) for a request they cannot carry out as asked (a name or region
// over the cluster's limits); the API answers it with 400.
var ErrInvalid = errors.New("dashboard: invalid request")

// maxRegionLen is the longest region name the cluster gossips (its codec's
// limit): a longer one could never become active on any node.
const maxRegionLen = 255

// AllowHosts answers 421 Misdirected Request to a request whose Host is
// neither an IP address, nor "localhost", nor one of hosts(). A web page
// on another site can point its own DNS name at this node's address (DNS
// rebinding) and then read and drive the API as same-origin; its requests
// still carry that foreign name in Host, and are refused here. hosts is
// called per request so a reload can change the list; names are compared
// without port, case or trailing dot.
func AllowHosts(h http.Handler, hosts func() []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, hosts) {
			writeError(w, http.StatusMisdirectedRequest,
				"this node does not answer to that host name; add it to listen.http_hosts if it is yours")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func hostAllowed(host string, hosts func() []string) bool {
	if host == "" { // HTTP/1.0 without Host: no browser sends that
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return true // an address cannot be rebound to another one
	}
	if host == "localhost" {
		return true
	}
	if hosts == nil {
		return false
	}
	return slices.Contains(hosts(), host)
}

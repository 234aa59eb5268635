package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Validation of health defaults, liveness probes and readiness sources.

func (k *checker) health() {
	h := &k.c.Health
	k.timing("health", &h.Interval, &h.Timeout, Duration(defaultInterval), Duration(defaultTimeout))
	k.count("health.rise", &h.Rise, defaultRise)
	k.count("health.fall", &h.Fall, defaultFall)
	k.dur("health.max_lag", &h.MaxLag, defaultMaxLag)
	k.dur("health.hold", &h.Hold, defaultHold)
	k.dur("health.fast_interval", &h.FastInterval, 0)
	if h.FastInterval > h.Interval {
		k.p.add("health.fast_interval", "fast_interval %s must not exceed interval %s", h.FastInterval, h.Interval)
	}
}

// timing fills interval and timeout and checks timeout < interval. A
// timeout left unset takes defTimeout, capped at half the interval so a
// short interval alone is a valid probe.
func (k *checker) timing(path string, interval, timeout *Duration, defInterval, defTimeout Duration) {
	k.dur(path+".interval", interval, defInterval.D())
	if *interval > 0 && interval.D() < minProbeInterval {
		k.p.add(path+".interval", "must be at least %s, got %s", minProbeInterval, *interval)
	}
	if *timeout == 0 && defTimeout >= *interval {
		defTimeout = *interval / 2
	}
	k.dur(path+".timeout", timeout, defTimeout.D())
	if *timeout >= *interval {
		k.p.add(path+".timeout", "timeout %s must be less than interval %s", *timeout, *interval)
	}
}

// httpURL checks a probe URL: http or https with a host.
func (k *checker) httpURL(path, v string) (scheme string, ok bool) {
	u, err := url.Parse(v)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		k.p.add(path, "%q is not an http:// or https:// URL with a host", v)
		return "", false
	}
	k.urlPort(path, u)
	return u.Scheme, true
}

func (k *checker) probe(path string, pr *Probe) {
	h := k.c.Health
	pr.Type = lower(pr.Type)
	urlChecked := false
	if pr.Type == "" {
		switch {
		case pr.URL != "":
			// The type comes from the scheme, so a URL without one (or one
			// that does not parse) must be reported here: left typeless,
			// the probe would otherwise pass validation unchecked.
			urlChecked = true
			if scheme, ok := k.httpURL(path+".url", pr.URL); ok {
				pr.Type = scheme
			}
		case pr.Address != "":
			pr.Type = "tcp"
		default:
			k.p.add(path, "a probe needs a url (http/https) or an address (tcp)")
		}
	}
	switch pr.Type {
	case "http", "https":
		if pr.URL == "" {
			k.p.add(path+".url", "url is required for %s probes", pr.Type)
		} else if !urlChecked { // a type taken from the URL matches it
			if scheme, ok := k.httpURL(path+".url", pr.URL); ok && scheme != pr.Type {
				k.p.add(path+".url", "url scheme %s does not match type %s", scheme, pr.Type)
			}
		}
		if pr.Address != "" {
			k.p.add(path+".address", "address is only for tcp probes")
		}
		pr.Method = strings.ToUpper(strings.TrimSpace(pr.Method))
		if pr.Method == "" {
			pr.Method = "GET"
		}
		for i, st := range pr.ExpectStatus {
			if st < 100 || st > 599 {
				k.p.add(fmt.Sprintf("%s.expect_status[%d]", path, i), "%d is not an HTTP status code", st)
			}
		}
	case "tcp":
		if pr.Address == "" {
			k.p.add(path+".address", "address (host:port) is required for tcp probes")
		} else if err := hostPort(pr.Address, false); err != nil {
			k.p.add(path+".address", "%v", err)
		}
		if pr.URL != "" {
			k.p.add(path+".url", "url is only for http and https probes")
		}
		for _, f := range []string{"method", "host", "expect_status", "body_contains"} {
			if k.p.present(path + "." + f) {
				k.p.add(path+"."+f, "%s is only for http and https probes", f)
			}
		}
	case "":
	default:
		k.p.add(path+".type", "unsupported probe type %q (want http, https or tcp)", pr.Type)
	}
	k.timing(path, &pr.Interval, &pr.Timeout, h.Interval, h.Timeout)
	k.count(path+".rise", &pr.Rise, h.Rise)
	k.count(path+".fall", &pr.Fall, h.Fall)
	fast := h.FastInterval.D()
	if fast <= 0 {
		fast = pr.Interval.D() / 4
	}
	k.dur(path+".fast_interval", &pr.FastInterval, min(fast, pr.Interval.D()))
	if pr.FastInterval > pr.Interval {
		k.p.add(path+".fast_interval", "fast_interval %s must not exceed interval %s", pr.FastInterval, pr.Interval)
	}
}

func (k *checker) readiness(path string, r *Readiness, live *Probe) {
	h := k.c.Health
	r.Type = lower(r.Type)
	if r.Type == "" {
		switch {
		case r.DSN != "":
			r.Type = "postgres"
		case r.Metric != "":
			r.Type = "prometheus"
		case r.Field != "":
			r.Type = "http_json"
		default:
			k.p.add(path+".type", "type is required (http_json, prometheus or postgres)")
		}
	}
	need := func(field, v string) {
		if strings.TrimSpace(v) == "" {
			k.p.add(path+"."+field, "%s is required for type %s", field, r.Type)
		}
	}
	unused := func(fields ...string) {
		for _, f := range fields {
			if k.p.present(path + "." + f) {
				k.p.add(path+"."+f, "%s is not used by type %s", f, r.Type)
			}
		}
	}
	switch r.Type {
	case "http_json":
		need("url", r.URL)
		need("field", r.Field)
		if r.URL != "" {
			k.httpURL(path+".url", r.URL)
		}
		if r.Field != "" && slices.Contains(strings.Split(r.Field, "."), "") {
			k.p.add(path+".field", "field %q has an empty path element", r.Field)
		}
		unused("metric", "labels", "dsn")
	case "prometheus":
		need("url", r.URL)
		need("metric", r.Metric)
		if r.URL != "" {
			k.httpURL(path+".url", r.URL)
		}
		unused("field", "dsn")
	case "postgres":
		need("dsn", r.DSN)
		unused("url", "field", "metric", "labels")
	case "":
	default:
		k.p.add(path+".type", "unsupported readiness type %q (want http_json, prometheus or postgres)", r.Type)
	}
	k.dur(path+".max_lag", &r.MaxLag, h.MaxLag.D())
	k.dur(path+".hold", &r.Hold, h.Hold.D())
	defInterval, defTimeout := h.Interval, h.Timeout
	if live != nil {
		defInterval, defTimeout = live.Interval, live.Timeout
	}
	k.timing(path, &r.Interval, &r.Timeout, defInterval, defTimeout)
}

package config

import (
	"errors"
	"fmt"
	"strings"
)

// qualify turns a name as written in the config into a lower-case FQDN with
// a trailing dot, the zone-file way: "@" is origin, a name ending in "." is
// absolute, anything else is relative to origin.
func qualify(name, origin string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	switch {
	case name == "@" || name == "":
		return origin
	case strings.HasSuffix(name, "."):
		return name
	case origin == "." || origin == "":
		return name + "."
	default:
		return name + "." + origin
	}
}

// absolute lower-cases name and adds the trailing dot (for names that are
// always absolute, like a zone apex).
func absolute(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// checkName reports why fqdn (lower-case, trailing dot) is not a usable
// host-style DNS name. Underscores are allowed for service labels
// (_sip._tcp); wildcards are not supported.
func checkName(fqdn string) error {
	if fqdn == "." {
		return nil
	}
	if len(fqdn) > 254 { // 253 characters plus the trailing dot
		return fmt.Errorf("name %q is longer than 253 characters", fqdn)
	}
	labels := strings.Split(strings.TrimSuffix(fqdn, "."), ".")
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("name %q has an empty label", fqdn)
		}
		if len(l) > 63 {
			return fmt.Errorf("name %q has a label longer than 63 characters", fqdn)
		}
		if l == "*" {
			return fmt.Errorf("name %q: wildcards are not supported", fqdn)
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			ok := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' ||
				ch == '-' && i != 0 && i != len(l)-1
			if !ok {
				return fmt.Errorf("name %q: label %q may hold only letters, digits, '_' and inner '-'", fqdn, l)
			}
		}
	}
	return nil
}

// inZone reports whether fqdn is apex or below it.
func inZone(fqdn, apex string) bool {
	return fqdn == apex || apex == "." || strings.HasSuffix(fqdn, "."+apex)
}

// rname turns an SOA mailbox into domain form: "ops@example.com" becomes
// "ops.example.com."; a domain form is qualified like other names.
func rname(v, apex string) (string, error) {
	v = strings.TrimSpace(v)
	local, domain, ok := strings.Cut(v, "@")
	if !ok {
		return qualify(v, apex), nil
	}
	if local == "" || domain == "" || strings.Contains(local, ".") {
		// A dot in the local part would need escaping in domain form.
		return "", errors.New("mailbox must be user@domain with no dot in user, or in domain form (hostmaster.example.com.)")
	}
	return absolute(local + "." + domain), nil
}

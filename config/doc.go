// Package config owns gslbd's YAML schema and is the one source of
// defaults, derived values and validation: strict decoding, defaults,
// name normalisation, validation with field paths and line numbers, and
// the files a config names.
//
// Prepare (and Load, which reads the file first) is the one way in for
// the daemon: `gslbd check`, start and every reload run it, so a file
// check accepts is a file start and reload accept. It bounds the input
// before parsing (file size, nesting depth, alias expansion), parses with
// go.yaml.in/yaml/v3 into its node tree (aliases are not expanded there;
// it parses a large file several times faster than goccy/go-yaml did)
// and walks the tree itself, so that every problem in a file is reported
// at once — unknown and duplicate keys, wrong kinds, bad values,
// cross-references and unreadable files — each as a Problem with a path
// such as
// "zones[0].names[1].endpoints[0].addresses[2]" and its source line. A
// Config returned without error is the resolved model: defaults are
// filled, every DNS name is a lower-case FQDN with a trailing dot, IP
// addresses are canonical, static record values are parsed into
// Record.Parsed, every endpoint has its ID, CIDR map networks are parsed
// (CIDREntry.Prefix), the quorum rule is parsed (Cluster.Rule), gossip
// keys are decoded (Cluster.Secrets), the admin token is resolved
// (Admin.Secret), and the key, token, CA, hook secret and GeoIP files are read and
// checked into it (CAPEM, GeoIP.Files, verified with maxminddb).
// Consumers take the model as is: cluster, health, gslb and cmd/gslbd do
// not re-derive any of these. Parse does the same without reading any
// file, for tests and tools.
//
// Name rules (as in zone files): record names, GSLB names, nameservers,
// SOA names and targets (CNAME, NS, MX, SRV values and endpoint targets)
// are relative to the zone apex unless they end with "."; "@" is the apex.
//
// Defaults: a zero value means "unset" and takes its default; where a
// written 0 would be a mistake (rise, fall) the key's presence is checked,
// as it is where a written 0 means something (rrl.slip 0 drops every
// limited reply, rrl.errors_per_second 0 does not limit errors). The rrl
// section is a pointer: absent, rate limiting is off.
// An unset probe timeout takes the health default but at most half the
// interval. A failover (or write) name without order uses the regions of
// its endpoints in endpoint order. cluster.refresh (default the largest
// probe interval) is also how often an endpoint without probes is
// re-observed, and stays below stale_after.
//
// config imports no other gslbd package (and not miekg/dns: the dns
// package turns RData into wire records). It has no goroutines and no
// global state; a Config is a plain value that must not be modified once
// handed to other parts (a Snapshot shares it across goroutines).
package config

package config

import (
	"time"
)

// Config is one gslbd node's whole configuration. It is decoded strictly
// (unknown keys are errors) and validated as a whole by Parse/Load; a Config
// returned without error is complete: defaults are filled in and every name
// is a lower-case FQDN with a trailing dot.
type Config struct {
	// Node names this gslbd instance; it is the memberlist node name and the
	// answer to CHAOS TXT id.server/hostname.bind. Default: the host name.
	Node string `yaml:"node"`
	// Listen holds the socket addresses. Changing them needs a restart.
	Listen Listen `yaml:"listen"`
	// Regions are shared by every zone; endpoints refer to them by name.
	Regions []Region `yaml:"regions"`
	// Zones are the delegated zones this node is authoritative for.
	Zones []Zone `yaml:"zones"`
	// GeoIP says how client addresses are located.
	GeoIP GeoIP `yaml:"geoip"`
	// Health holds probe defaults applied to every endpoint that does not
	// set its own value.
	Health HealthDefaults `yaml:"health"`
	// Cluster configures gossip with peer nodes. Empty means a solo node.
	Cluster Cluster `yaml:"cluster"`
	// Admin protects the operator actions of the HTTP API.
	Admin Admin `yaml:"admin"`
	// VersionBind is the answer to CHAOS TXT version.bind; empty refuses it.
	VersionBind string `yaml:"version_bind"`
	// StateFile keeps operator drains across restarts. Empty keeps them in
	// memory only.
	StateFile string `yaml:"state_file"`

	// Hash is the SHA-256 (hex) of the source bytes; set by Parse.
	Hash string `yaml:"-"`
	// Source is the file name the config came from; set by Parse.
	Source string `yaml:"-"`
}

// Listen holds listen addresses. Default DNS ["127.0.0.1:5353"], HTTP
// "127.0.0.1:8053".
type Listen struct {
	// DNS addresses, each served on UDP and TCP.
	DNS []string `yaml:"dns"`
	// HTTP is the dashboard/API/metrics address; "" disables it.
	HTTP string `yaml:"http"`
	// UDPSize is the EDNS0 UDP payload size we advertise. Default 1232.
	UDPSize uint16 `yaml:"udp_size"`
	// TCPIdleTimeout closes idle TCP connections. Default 10s.
	TCPIdleTimeout Duration `yaml:"tcp_idle_timeout"`
}

// Region is a place where endpoints run.
type Region struct {
	Name      string  `yaml:"name"`
	Latitude  float64 `yaml:"latitude"`
	Longitude float64 `yaml:"longitude"`
	// Continent is a two-letter code: AF AN AS EU NA OC SA.
	Continent string `yaml:"continent"`
}

// Zone is one delegated zone.
type Zone struct {
	// Apex is the zone's origin, e.g. "gslb.example.com." (dot optional in YAML).
	Apex string `yaml:"apex"`
	// TTL is the default TTL of static records. Default 300s.
	TTL Duration `yaml:"ttl"`
	SOA SOA      `yaml:"soa"`
	// Nameservers form the apex NS set; names inside the zone need glue.
	Nameservers []Nameserver `yaml:"nameservers"`
	// Records are static records. Names are relative to the apex unless
	// they end with a dot; "@" is the apex.
	Records []Record `yaml:"records"`
	// Names are the GSLB names, answered by policy and endpoint health.
	Names []Name `yaml:"names"`
}

// SOA holds the zone's SOA fields.
type SOA struct {
	// MName defaults to the first nameserver.
	MName string `yaml:"mname"`
	// RName is the responsible mailbox in domain form. Default "hostmaster.<apex>".
	RName   string   `yaml:"rname"`
	Serial  uint32   `yaml:"serial"`  // default 1
	Refresh Duration `yaml:"refresh"` // default 1h
	Retry   Duration `yaml:"retry"`   // default 10m
	Expire  Duration `yaml:"expire"`  // default 168h
	// Minimum is the negative-caching TTL cap. Default 60s.
	Minimum Duration `yaml:"minimum"`
	// TTL of the SOA record itself. Default the zone TTL.
	TTL Duration `yaml:"ttl"`
}

// Nameserver is one apex NS with its glue addresses (required when the
// name is inside the zone).
type Nameserver struct {
	Name      string   `yaml:"name"`
	Addresses []string `yaml:"addresses"`
}

// Record is one static record set member.
type Record struct {
	Name string `yaml:"name"`
	// Type is one of A AAAA CNAME TXT MX SRV CAA NS.
	Type string `yaml:"type"`
	// TTL defaults to the zone TTL.
	TTL Duration `yaml:"ttl"`
	// Value in zone-file RDATA form: "192.0.2.1", "10 mail.example.com.",
	// "0 5 443 host.", `0 issue "ca.example"`, or free text for TXT.
	Value string `yaml:"value"`

	// Parsed is filled by validation with the typed RDATA.
	Parsed RData `yaml:"-"`
}

// RData is a parsed static record value. Only the fields of its type are set.
type RData struct {
	Addr     string   // A, AAAA (canonical text form)
	Target   string   // CNAME, NS, MX exchange, SRV target (FQDN)
	Text     []string // TXT character-strings (each <= 255 bytes)
	Pref     uint16   // MX preference
	Priority uint16   // SRV
	Weight   uint16   // SRV
	Port     uint16   // SRV
	Flag     uint8    // CAA
	Tag      string   // CAA
	CAAValue string   // CAA
}

// Name is a GSLB name: a DNS name answered from ready endpoints by policy.
type Name struct {
	Name string `yaml:"name"`
	// Policy is all, nearest, failover, weighted or geomap. Default nearest.
	Policy string `yaml:"policy"`
	// TTL of answers. Default 30s.
	TTL Duration `yaml:"ttl"`
	// MinTTL floors the health-driven TTL cap. Default 5s.
	MinTTL Duration `yaml:"min_ttl"`
	// Answers is how many endpoints one answer holds. Default 1.
	Answers int `yaml:"answers"`
	// Role is read (default) or write.
	Role string `yaml:"role"`
	// Failback is manual (default) or auto; only for role write.
	Failback string `yaml:"failback"`
	// FailbackHold is how long the preferred region must be ready before an
	// automatic failback. Default 60s.
	FailbackHold Duration `yaml:"failback_hold"`
	// AllDown is open (answer every endpoint, default) or closed (SERVFAIL).
	AllDown string `yaml:"all_down"`
	// Order lists regions for failover (and write) names, most preferred first.
	Order []string `yaml:"order"`
	// GeoMap maps a country (ISO 3166 alpha-2) or continent code, or
	// "default", to an ordered region list; for policy geomap.
	GeoMap map[string][]string `yaml:"geomap"`
	// Residency fences clients of some places to some regions.
	Residency *Residency `yaml:"residency"`
	Endpoints []Endpoint `yaml:"endpoints"`
}

// Residency keeps clients located in Match to Regions only.
type Residency struct {
	// Match holds country or continent codes.
	Match   []string `yaml:"match"`
	Regions []string `yaml:"regions"`
	// Fail is what fenced clients get when no fenced region is ready:
	// open (default) falls back to the name's normal policy over all
	// regions; closed answers NODATA with the name's TTL as negative TTL.
	Fail string `yaml:"fail"`
}

// Endpoint is one region's instance of a GSLB name.
type Endpoint struct {
	// Name is unique within the GSLB name. Default: the region name.
	Name   string `yaml:"name"`
	Region string `yaml:"region"`
	// Addresses are IPv4 and/or IPv6 addresses answered for A/AAAA.
	Addresses []string `yaml:"addresses"`
	// Target is a hostname answered as a CNAME instead of addresses.
	Target string `yaml:"target"`
	// Weight for policy weighted. Default 1; 0 means only when nothing else is ready.
	Weight *int `yaml:"weight"`
	// Liveness probe; nil means always alive.
	Liveness *Probe `yaml:"liveness"`
	// Readiness (lag) source; nil means ready once alive.
	Readiness *Readiness `yaml:"readiness"`

	// ID is "<endpoint name>@<gslb name without trailing dot>"; set by validation.
	ID string `yaml:"-"`
}

// Probe is a liveness probe. Zero fields take HealthDefaults.
type Probe struct {
	// Type is http, https or tcp. Default: from URL scheme, tcp if Address is set.
	Type string `yaml:"type"`
	// URL for http/https probes.
	URL string `yaml:"url"`
	// Address host:port for tcp probes.
	Address string `yaml:"address"`
	// Method, default GET.
	Method string `yaml:"method"`
	// Host overrides the Host header.
	Host string `yaml:"host"`
	// ExpectStatus lists accepted status codes. Default any 2xx.
	ExpectStatus []int `yaml:"expect_status"`
	// BodyContains must occur in the body when set.
	BodyContains string `yaml:"body_contains"`
	// TLSSkipVerify turns certificate verification off.
	TLSSkipVerify bool `yaml:"tls_skip_verify"`
	// CAFile is a PEM bundle to verify the server with.
	CAFile   string   `yaml:"ca_file"`
	Interval Duration `yaml:"interval"` // default 5s
	Timeout  Duration `yaml:"timeout"`  // default 2s; must be < interval
	Rise     int      `yaml:"rise"`     // default 2
	Fall     int      `yaml:"fall"`     // default 3
}

// Readiness is a lag source.
type Readiness struct {
	// Type is http_json, prometheus or postgres.
	Type string `yaml:"type"`
	// URL for http_json and prometheus.
	URL string `yaml:"url"`
	// Field is a dotted path into the JSON body, read as seconds.
	Field string `yaml:"field"`
	// Metric is a Prometheus gauge name, read as seconds.
	Metric string `yaml:"metric"`
	// Labels must all match on the chosen sample.
	Labels map[string]string `yaml:"labels"`
	// DSN is a PostgreSQL connection string.
	DSN string `yaml:"dsn"`
	// MaxLag is the highest lag that counts as caught up. Default 10s.
	MaxLag Duration `yaml:"max_lag"`
	// Hold is how long lag must stay under MaxLag. Default 30s.
	Hold     Duration `yaml:"hold"`
	Interval Duration `yaml:"interval"` // default: liveness interval
	Timeout  Duration `yaml:"timeout"`  // default: liveness timeout
	// TLSSkipVerify and CAFile as for Probe.
	TLSSkipVerify bool   `yaml:"tls_skip_verify"`
	CAFile        string `yaml:"ca_file"`
}

// HealthDefaults fill unset probe fields.
type HealthDefaults struct {
	Interval Duration `yaml:"interval"` // default 5s
	Timeout  Duration `yaml:"timeout"`  // default 2s
	Rise     int      `yaml:"rise"`     // default 2
	Fall     int      `yaml:"fall"`     // default 3
	MaxLag   Duration `yaml:"max_lag"`  // default 10s
	Hold     Duration `yaml:"hold"`     // default 30s
}

// GeoIP says how clients are located.
type GeoIP struct {
	// Databases are MaxMind/GeoLite2 City or Country mmdb files, consulted
	// in order after the CIDR map.
	Databases []string `yaml:"databases"`
	// CIDRMap entries; the longest matching prefix wins over any database.
	CIDRMap []CIDREntry `yaml:"cidr_map"`
}

// CIDREntry maps a network to a region or to a place.
type CIDREntry struct {
	Network string `yaml:"network"`
	// Region sends the network to that region's coordinates.
	Region    string   `yaml:"region"`
	Latitude  *float64 `yaml:"latitude"`
	Longitude *float64 `yaml:"longitude"`
	Country   string   `yaml:"country"`
	Continent string   `yaml:"continent"`
}

// Cluster configures gossip. With no Seeds and no Bind the node is solo.
type Cluster struct {
	// Bind is host:port for memberlist (UDP and TCP). Default "" (solo).
	Bind string `yaml:"bind"`
	// Advertise is host:port peers use; default Bind.
	Advertise string `yaml:"advertise"`
	// Seeds are peers to join; retried with backoff until one answers.
	Seeds []string `yaml:"seeds"`
	// Expect is the configured cluster size used for the isolation rule.
	// Default 1 + len(Seeds).
	Expect int `yaml:"expect"`
	// Keys are base64 32-byte AES keys; the first is primary. Required when
	// more than one node is configured.
	Keys []string `yaml:"keys"`
	// KeyFile holds one base64 key per line, appended to Keys.
	KeyFile string `yaml:"key_file"`
	// Quorum is majority (default), any, all, or a fraction in (0,1].
	Quorum string `yaml:"quorum"`
	// StaleAfter drops observations older than this. Default 3 × the
	// largest probe interval.
	StaleAfter Duration `yaml:"stale_after"`
	// IsolationHold bounds how long an isolated node keeps the last agreed
	// state. Default 5m.
	IsolationHold Duration `yaml:"isolation_hold"`
	// Refresh is how often a node re-broadcasts its observations. Default 1 × interval.
	Refresh Duration `yaml:"refresh"`
}

// Admin holds the admin token (or a file holding it).
type Admin struct {
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// Duration is a time.Duration written as "1s", "500ms" or a bare number of
// seconds in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

package config

import (
	"net/netip"
	"time"
)

// Config is one gslbd node's whole configuration. It is decoded strictly
// (unknown keys are errors) and validated as a whole by Prepare (or Load);
// a Config returned without error is the resolved model: defaults are
// filled in, every name is a lower-case FQDN with a trailing dot, derived
// values (fields tagged yaml:"-") are set and every file it names has
// been read into it. Consumers use it as is and never re-default.
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
	// Hooks run webhooks and commands on failovers, endpoint state
	// changes and region drains (config/hooks.go).
	Hooks []Hook `yaml:"hooks"`
	// AuditLog records admin actions and write-primary changes.
	AuditLog AuditLog `yaml:"audit_log"`
	// RRL rate-limits UDP replies (see RRL); absent means off.
	RRL *RRL `yaml:"rrl"`
	// Cookies holds the DNS cookie secrets shared by the cluster.
	Cookies Cookies `yaml:"cookies"`

	// Warnings are risks in a valid config that an operator should know
	// (gslbd check prints them, start logs them); set by Parse.
	Warnings []string `yaml:"-"`
	// Hash is the SHA-256 (hex) of the source bytes; set by Parse.
	Hash string `yaml:"-"`
	// Source is the file name the config came from; set by Parse.
	Source string `yaml:"-"`
	// Fingerprint is the SHA-256 (hex) of the source bytes and of every
	// file the config names, as read by Prepare: equal fingerprints mean
	// a reload would change nothing.
	Fingerprint string `yaml:"-"`
}

// Listen holds listen addresses. Default DNS ["127.0.0.1:5353"], HTTP
// "127.0.0.1:8053".
type Listen struct {
	// DNS addresses (IP:port, IP may be empty for all), each served on UDP
	// and TCP. Empty means the default.
	DNS []string `yaml:"dns"`
	// HTTP is the dashboard/API/metrics address. Absent means the default;
	// written as "" it disables the HTTP listener.
	HTTP string `yaml:"http"`
	// UDPSize is the EDNS0 UDP payload size we advertise. Default 1232.
	UDPSize uint16 `yaml:"udp_size"`
	// UDPWorkers is how many sockets (SO_REUSEPORT) and goroutines serve
	// UDP on each DNS address. Default GOMAXPROCS; at most 256.
	UDPWorkers int `yaml:"udp_workers"`
	// TCPIdleTimeout closes idle TCP connections. Default 10s.
	TCPIdleTimeout Duration `yaml:"tcp_idle_timeout"`
	// MaxConns caps the open TCP connections of each listener. Zero
	// values are derived at start from the file-descriptor limit.
	MaxConns ConnLimits `yaml:"max_conns"`
	// HTTPHosts are the host names the HTTP listener answers to, besides
	// IP addresses and "localhost"; any other Host header gets 421, so a
	// web page cannot reach the API by DNS rebinding.
	HTTPHosts []string `yaml:"http_hosts"`
	// HTTPTLS, when its files are set, serves the HTTP listener over TLS
	// only. The files are re-read on reload.
	HTTPTLS TLSFiles `yaml:"http_tls"`
	// AnswerMetricNames is how many distinct GSLB names get their own
	// series in gslbd_dns_gslb_answers_total (later ones count as
	// "other"); 0 means 1000, a negative value turns per-name series off
	// (answers are then counted by region only). Read at start.
	AnswerMetricNames int `yaml:"answer_metric_names"`
}

// ConnLimits caps open TCP connections per listener kind, in total and
// per source (an IPv4 address or an IPv6 /64). 0 means derived from the
// process's file-descriptor limit (RLIMIT_NOFILE): DNS a quarter of it
// (at most 4096, 1/8 of that per source), HTTP and gossip a sixteenth
// (at most 256, a quarter of that per source). Caps above those shares
// are lowered to them, so connections can never take the descriptors
// the health probes need.
type ConnLimits struct {
	DNS             int `yaml:"dns"`
	DNSPerSource    int `yaml:"dns_per_source"`
	HTTP            int `yaml:"http"`
	HTTPPerSource   int `yaml:"http_per_source"`
	Gossip          int `yaml:"gossip"`
	GossipPerSource int `yaml:"gossip_per_source"`
}

// TLSFiles name a PEM certificate chain and its private key; both or
// neither.
type TLSFiles struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Region is a place where endpoints run.
type Region struct {
	// Name is unique; letters, digits, '-', '_' and '.'. Required.
	Name string `yaml:"name"`
	// Latitude and Longitude in degrees (-90..90, -180..180). Required.
	Latitude  float64 `yaml:"latitude"`
	Longitude float64 `yaml:"longitude"`
	// Continent is a two-letter code: AF AN AS EU NA OC SA (upper-cased by
	// Parse). Optional.
	Continent string `yaml:"continent"`
}

// Zone is one delegated zone.
type Zone struct {
	// Apex is the zone's origin, e.g. "gslb.example.com." (dot optional in
	// YAML; always absolute). Zones must have distinct apexes.
	Apex string `yaml:"apex"`
	// TTL is the default TTL of static records. Default 300s. TTLs are
	// whole seconds.
	TTL Duration `yaml:"ttl"`
	SOA SOA      `yaml:"soa"`
	// Nameservers form the apex NS set; names inside the zone need glue.
	Nameservers []Nameserver `yaml:"nameservers"`
	// Records are static records. Names are relative to the apex unless
	// they end with a dot; "@" is the apex.
	Records []Record `yaml:"records"`
	// Names are the GSLB names, answered by policy and endpoint health.
	Names []Name `yaml:"names"`
	// WhoAmI answers TXT whoami.<apex> with what the server sees of the
	// client and why it got its answer. Default off: it reveals endpoint
	// states and its reply is many times the query's size.
	WhoAmI bool `yaml:"whoami"`
}

// SOA holds the zone's SOA fields.
type SOA struct {
	// MName defaults to the first nameserver.
	// SOA durations are whole seconds.
	MName string `yaml:"mname"`
	// RName is the responsible mailbox in domain form, or as user@domain
	// (Parse converts it). Default "hostmaster.<apex>".
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
	// Type is one of A AAAA CNAME TXT MX SRV CAA NS (upper-cased by Parse).
	// NS records are for delegations below the apex; the apex NS set comes
	// from Zone.Nameservers. Below a delegation only A/AAAA (glue) records
	// are allowed, since queries there get a referral. A CNAME must be
	// alone at its name.
	Type string `yaml:"type"`
	// TTL defaults to the zone TTL. All records of one name and type (an
	// RRset) must have the same TTL (RFC 2181 5.2).
	TTL Duration `yaml:"ttl"`
	// Value in zone-file RDATA form: "192.0.2.1", "10 mail.example.com.",
	// "0 5 443 host.", `0 issue "ca.example"`. TXT takes one or more
	// double-quoted strings ("a" "b") or, unquoted, free text as one string;
	// strings over 255 bytes are split.
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
// No static record may share its name, and it must not be below a
// delegation.
type Name struct {
	Name string `yaml:"name"`
	// Policy is all, nearest, failover, weighted or geomap. Default nearest,
	// or failover for role write (which allows only failover).
	Policy string `yaml:"policy"`
	// TTL of answers. Default 30s.
	TTL Duration `yaml:"ttl"`
	// MinTTL floors the health-driven TTL cap. Default 5s (or TTL when that
	// is shorter); must not exceed TTL.
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
	// Order lists regions for failover (and write) names, most preferred
	// first. It must list every region that has an endpoint. Default: the
	// endpoints' regions in endpoint order. Only for policy failover.
	Order []string `yaml:"order"`
	// GeoMap maps a country (ISO 3166 alpha-2) or continent code, or
	// "default", to an ordered region list; for policy geomap only. Parse
	// upper-cases the codes.
	GeoMap map[string][]string `yaml:"geomap"`
	// Residency fences clients of some places to some regions.
	Residency *Residency `yaml:"residency"`
	Endpoints []Endpoint `yaml:"endpoints"`
}

// Residency keeps clients located in Match to Regions only.
type Residency struct {
	// Match holds country or continent codes (upper-cased by Parse).
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
	// Letters, digits, '-', '_' and '.'.
	Name   string `yaml:"name"`
	Region string `yaml:"region"`
	// Addresses are IPv4 and/or IPv6 addresses answered for A/AAAA
	// (canonicalised by Parse). Exactly one of Addresses and Target is set,
	// and all endpoints of a name use the same one.
	Addresses []string `yaml:"addresses"`
	// Target is a hostname answered as a CNAME instead of addresses.
	// Relative to the apex unless it ends with ".".
	Target string `yaml:"target"`
	// Weight for policy weighted. Default 1; 0 means only when nothing else is ready.
	Weight *int `yaml:"weight"`
	// Liveness probe; nil means always alive.
	Liveness *Probe `yaml:"liveness"`
	// Readiness (lag) source; nil means ready once alive.
	Readiness *Readiness `yaml:"readiness"`

	// ID is "<endpoint name>@<gslb name without trailing dot>", e.g.
	// "eu-west@app.gslb.test"; set by validation.
	ID string `yaml:"-"`
	// ProbeID names the endpoint's probe target, shared by every endpoint
	// that probes the same way: the ID of the first of them in config
	// order; "" without probes. Set by Parse (see AssignProbeIDs).
	ProbeID string `yaml:"-"`
}

// Probe is a liveness probe. Zero fields take HealthDefaults.
type Probe struct {
	// Type is http, https or tcp. Default: from URL scheme, tcp if Address
	// is set. Parse always sets it.
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
	CAFile string `yaml:"ca_file"`
	// CAPEM is CAFile's content, read and checked by Prepare.
	CAPEM []byte `yaml:"-"`
	// Interval between probes. Default health.interval (5s).
	Interval Duration `yaml:"interval"`
	// Timeout of one probe; must be < interval. Default health.timeout
	// (2s), but at most half the interval.
	Timeout Duration `yaml:"timeout"`
	// Rise consecutive successes mark it alive. Default health.rise (2).
	Rise int `yaml:"rise"`
	// Fall consecutive failures mark it down. Default health.fall (3).
	Fall int `yaml:"fall"`
	// FastInterval is the interval after a failed probe, until fall is
	// reached or a probe succeeds (HAProxy's fastinter), so a dead
	// endpoint is detected in about interval + (fall-1) × fast_interval.
	// Default health.fast_interval, else a quarter of the interval; at
	// most the interval.
	FastInterval Duration `yaml:"fast_interval"`
}

// Readiness is a lag source.
type Readiness struct {
	// Type is http_json, prometheus or postgres. Default: postgres when DSN
	// is set, else prometheus when Metric is set, else http_json when Field
	// is set. http_json needs URL and Field; prometheus URL and Metric;
	// postgres DSN.
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
	// MaxLag is the highest lag that counts as caught up. Default
	// health.max_lag (10s).
	MaxLag Duration `yaml:"max_lag"`
	// Hold is how long lag must stay under MaxLag. Default health.hold (30s).
	Hold Duration `yaml:"hold"`
	// Interval between lag reads. Default: the liveness probe's, else
	// health.interval.
	Interval Duration `yaml:"interval"`
	// Timeout of one read, < Interval. Default: the liveness probe's, else
	// health.timeout (capped at half the interval).
	Timeout Duration `yaml:"timeout"`
	// TLSSkipVerify and CAFile as for Probe.
	TLSSkipVerify bool   `yaml:"tls_skip_verify"`
	CAFile        string `yaml:"ca_file"`
	// CAPEM is CAFile's content, read and checked by Prepare.
	CAPEM []byte `yaml:"-"`
}

// HealthDefaults fill unset probe fields.
type HealthDefaults struct {
	Interval Duration `yaml:"interval"` // default 5s
	Timeout  Duration `yaml:"timeout"`  // default 2s (at most interval/2); must be < interval
	Rise     int      `yaml:"rise"`     // default 2
	Fall     int      `yaml:"fall"`     // default 3
	MaxLag   Duration `yaml:"max_lag"`  // default 10s
	Hold     Duration `yaml:"hold"`     // default 30s
	// FastInterval after a failed probe; default a quarter of each
	// probe's interval (see Probe.FastInterval).
	FastInterval Duration `yaml:"fast_interval"`
}

// GeoIP says how clients are located.
type GeoIP struct {
	// Databases are MaxMind/GeoLite2 City or Country mmdb files, consulted
	// in order after the CIDR map.
	Databases []string `yaml:"databases"`
	// CIDRMap entries; the longest matching prefix wins over any database.
	CIDRMap []CIDREntry `yaml:"cidr_map"`

	// Files holds every database's bytes, in Databases order, read and
	// verified by Prepare (Parse leaves it empty).
	Files []DatabaseFile `yaml:"-"`
}

// DatabaseFile is one GeoIP database read into memory.
type DatabaseFile struct {
	Path string
	Data []byte
}

// CIDREntry maps a network to a region or to a place: it needs Region or
// both Latitude and Longitude, not both.
type CIDREntry struct {
	// Network is a prefix without host bits, e.g. "10.1.0.0/16".
	Network string `yaml:"network"`
	// Region sends the network to that region's coordinates; Parse then
	// fills Latitude, Longitude (and an empty Continent) from the region.
	Region    string   `yaml:"region"`
	Latitude  *float64 `yaml:"latitude"`
	Longitude *float64 `yaml:"longitude"`
	Country   string   `yaml:"country"`
	Continent string   `yaml:"continent"`

	// Prefix is Network parsed (masked, in canonical form).
	Prefix netip.Prefix `yaml:"-"`
}

// Cluster configures gossip. With no Seeds and no Bind the node is solo.
type Cluster struct {
	// Bind is host:port for memberlist (UDP and TCP). Default "" (solo).
	Bind string `yaml:"bind"`
	// Advertise is host:port peers use; default Bind.
	Advertise string `yaml:"advertise"`
	// Seeds are peers (host:port) to join; retried with backoff until one
	// answers. List the other nodes, not this one. Seeds need Bind.
	Seeds []string `yaml:"seeds"`
	// Expect is the configured cluster size used for the isolation rule.
	// Default 1 + len(Seeds).
	Expect int `yaml:"expect"`
	// Keys are base64 32-byte AES keys; the first is primary. Required when
	// more than one node is configured (Seeds set or Expect > 1).
	Keys []string `yaml:"keys"`
	// KeyFile holds one base64 key per line ('#' comments allowed); Parse
	// reads it and appends its keys to Keys. A relative path is relative to
	// the working directory.
	KeyFile string `yaml:"key_file"`
	// Quorum is majority (default), any, all, or a fraction in (0,1]
	// written as a number ("0.5"). Prepare parses it into Rule.
	Quorum string `yaml:"quorum"`
	// StaleAfter drops observations older than this. Default 3 × the
	// largest probe interval (see Config.MaxProbeInterval); must exceed
	// Refresh.
	StaleAfter Duration `yaml:"stale_after"`
	// IsolationHold bounds how long an isolated node keeps the last agreed
	// state. Default 5m.
	IsolationHold Duration `yaml:"isolation_hold"`
	// Refresh is how often a node re-broadcasts its observations, and how
	// often an endpoint without probes is re-observed. Default the largest
	// probe interval.
	Refresh Duration `yaml:"refresh"`
	// WriteGrace is how long a node that lost its quorum keeps answering
	// write names from the record in force before it answers SERVFAIL for
	// them. Default 10s.
	WriteGrace Duration `yaml:"write_grace"`
	// StartupLimit bounds how long a starting node waits for its first
	// full probe round and its peers' state before it answers GSLB names
	// and may propose write-name changes anyway. Default 30s.
	StartupLimit Duration `yaml:"startup_limit"`
	// Allow lists the networks (CIDR) gossip is accepted from; packets
	// and streams from elsewhere are dropped before decryption. Default:
	// any source.
	Allow []string `yaml:"allow"`

	// Rule is Quorum parsed.
	Rule QuorumRule `yaml:"-"`
	// Secrets are the decoded gossip keys (Keys, then key_file's), primary
	// first, without repeats. Parse decodes Keys; Prepare adds key_file's.
	Secrets [][]byte `yaml:"-"`
}

// QuorumRule is a parsed cluster.quorum.
type QuorumRule struct {
	// Kind is "majority", "any", "all" or "fraction".
	Kind string
	// Fraction is in (0,1], set only for Kind "fraction".
	Fraction float64
}

// Admin holds the admin token (or a file holding it), not both; without
// a token, admin actions are refused. A token is at least 16 bytes.
type Admin struct {
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`

	// Secret is the token in effect: Token, or TokenFile's content (read
	// by Prepare), with surrounding space trimmed.
	Secret string `yaml:"-"`
}

// Duration is a time.Duration written as "1s", "500ms" or a bare number of
// seconds ("5", "0.5") in YAML. Negative durations are refused by Parse;
// zero means "use the default".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

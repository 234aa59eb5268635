package config

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Limits on the files a config names. They keep a reload from hanging on
// a device or a FIFO (only regular files are read) and from reading
// something far larger than such a file can sensibly be.
const (
	maxKeyFile   = 64 << 10
	maxTokenFile = 64 << 10
	maxCAFile    = 4 << 20
	// maxDatabase is far above a full GeoIP2 City database (~130 MB).
	maxDatabase = 1 << 30
	// minTokenLen is the shortest admin token accepted: 16 bytes is the
	// least that is not guessable by brute force over HTTP.
	minTokenLen = 16
	// nonBlock opens a FIFO without waiting for a writer; the regular
	// file check then refuses it.
	nonBlock = syscall.O_NONBLOCK
)

// MaxFileSize is the largest config file Load reads. A zone of 100,000
// names is about 20 MB of YAML.
const MaxFileSize = 64 << 20

// Prepare is the one step from config bytes to the model every part of
// gslbd consumes: it decodes strictly, fills defaults, derives values
// (endpoint IDs, parsed networks, the quorum rule, decoded gossip keys)
// and validates, like Parse, and then reads and checks every file the
// config names: cluster.key_file, admin.token_file, every ca_file (PEM
// certificates), every hook's secret_file, cookies.secret_file and every
// geoip database (read into memory and verified with maxminddb's Verify).
// Their contents land in the Config, so no other part opens them again. `gslbd check`, start and reload all run
// Prepare; a file it accepts, they accept.
//
// Relative file paths are relative to the working directory. On error
// Prepare returns *Error listing every problem, config and files alike.
func Prepare(data []byte, source string) (*Config, error) {
	return run(data, source, true)
}

// Load reads the file at path and runs Prepare on it. A file larger than
// MaxFileSize is refused before it is parsed.
func Load(path string) (*Config, error) {
	data, err := readSmallFile(path, MaxFileSize)
	if err != nil {
		return nil, &Error{Source: path, Problems: []Problem{{Msg: err.Error()}}}
	}
	return Prepare(data, path)
}

// resolveFiles reads every file c names into c, adding a problem (with
// the field path) for each that is missing, unreadable or malformed.
func resolveFiles(c *Config, p *problems) {
	if c.Cluster.KeyFile != "" {
		keyFile(c, p)
	}
	c.Cluster.Secrets = decodeKeys(c.Cluster.Keys)
	if c.Cookies.SecretFile != "" {
		cookieSecretFile(&c.Cookies, p)
	}
	if f := c.Admin.TokenFile; f != "" {
		data, err := readSmallFile(f, maxTokenFile)
		if err != nil {
			p.add("admin.token_file", "cannot read token file: %v", err)
		} else {
			c.Admin.Secret = strings.TrimSpace(string(data))
			checkToken(p, "admin.token_file", c.Admin.Secret)
		}
	}
	cas := map[string][]byte{}
	readCA := func(path, file string) []byte {
		if file == "" {
			return nil
		}
		if pem, ok := cas[file]; ok {
			return pem
		}
		pem, err := readSmallFile(file, maxCAFile)
		if err != nil {
			p.add(path, "cannot read CA file: %v", err)
			return nil
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			p.add(path, "%s holds no PEM certificates", file)
			return nil
		}
		cas[file] = pem
		return pem
	}
	for zi := range c.Zones {
		for ni := range c.Zones[zi].Names {
			n := &c.Zones[zi].Names[ni]
			for ei := range n.Endpoints {
				e := &n.Endpoints[ei]
				ep := fmt.Sprintf("zones[%d].names[%d].endpoints[%d]", zi, ni, ei)
				if e.Liveness != nil {
					e.Liveness.CAPEM = readCA(ep+".liveness.ca_file", e.Liveness.CAFile)
				}
				if e.Readiness != nil {
					e.Readiness.CAPEM = readCA(ep+".readiness.ca_file", e.Readiness.CAFile)
				}
			}
		}
	}
	for i := range c.Hooks {
		w := c.Hooks[i].Webhook
		if w == nil || w.SecretFile == "" {
			continue
		}
		path := fmt.Sprintf("hooks[%d].webhook.secret_file", i)
		b, err := readSmallFile(w.SecretFile, maxSecretBytes)
		if err != nil {
			p.add(path, "%v", err)
		} else if w.Secret = bytes.TrimSpace(b); len(w.Secret) == 0 {
			p.add(path, "%s is empty", w.SecretFile)
		}
	}
	// The TLS pair is loaded here so that check, start and reload refuse
	// one that does not load; the listener loads it again when it serves.
	if t := c.Listen.HTTPTLS; t.CertFile != "" && t.KeyFile != "" && c.Listen.HTTP != "" {
		cert, err := readSmallFile(t.CertFile, maxCAFile)
		var key []byte
		if err == nil {
			key, err = readSmallFile(t.KeyFile, maxCAFile)
		}
		if err == nil {
			_, err = tls.X509KeyPair(cert, key)
		}
		if err != nil {
			p.add("listen.http_tls", "cannot load the certificate and key: %v", err)
		}
	}
	for i, path := range c.GeoIP.Databases {
		if strings.TrimSpace(path) == "" {
			continue // reported by validation
		}
		data, err := readDatabase(path)
		if err != nil {
			p.add(fmt.Sprintf("geoip.databases[%d]", i), "%v", err)
			continue
		}
		c.GeoIP.Files = append(c.GeoIP.Files, DatabaseFile{Path: path, Data: data})
	}
}

// readDatabase reads an mmdb file into memory and verifies its whole
// structure, so a truncated or corrupt download is refused here rather
// than misread under queries.
func readDatabase(path string) ([]byte, error) {
	data, err := readSmallFile(path, maxDatabase)
	if err != nil {
		return nil, fmt.Errorf("cannot read GeoIP database: %v", err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a MaxMind DB file: %v", path, err)
	}
	err = r.Verify()
	if err != nil && len(r.Metadata.Description) == 0 && strings.Contains(err.Error(), "description") {
		// Verify insists on a non-empty description map, which real
		// databases such as ip-location-db's (geo/testdata) leave out.
		// Such a file is checked by decoding every network's record.
		err = decodeAll(r)
	}
	if err != nil {
		return nil, fmt.Errorf("%s fails verification (corrupt or truncated?): %v", path, err)
	}
	return data, nil
}

// decodeAll walks every network of r and decodes its record, which reads
// the whole search tree and every record the tree points at.
func decodeAll(r *maxminddb.Reader) error {
	var rec any
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return err
		}
		if err := res.Decode(&rec); err != nil {
			return fmt.Errorf("network %s: %w", res.Prefix(), err)
		}
	}
	return nil
}

// checkToken refuses a short admin token. The message never repeats the
// token itself: config errors end up in logs.
func checkToken(p *problems, path, token string) {
	if len(token) < minTokenLen {
		p.add(path, "admin token is %d bytes; want at least %d (make one with: head -c24 /dev/urandom | base64)", len(token), minTokenLen)
	}
}

// keyFile reads one base64 key per line ('#' comments and blank lines are
// skipped) and appends the keys to Keys, so cluster sees one list.
func keyFile(c *Config, p *problems) {
	cl := &c.Cluster
	data, err := readSmallFile(cl.KeyFile, maxKeyFile)
	if err != nil {
		p.add("cluster.key_file", "cannot read key file: %v", err)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n, found := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		found++
		if err := checkKey(line); err != nil {
			p.add("cluster.key_file", "%s line %d: %v", cl.KeyFile, n, err)
			continue
		}
		cl.Keys = append(cl.Keys, line)
	}
	if err := sc.Err(); err != nil {
		p.add("cluster.key_file", "reading %s: %v", cl.KeyFile, err)
	} else if found == 0 {
		p.add("cluster.key_file", "%s holds no keys", cl.KeyFile)
	}
}

// fingerprint is the hash of the config and of every file it named, so a
// reload of the same bytes is recognised as a no-op and a new GeoIP
// download or a rotated key is not.
func fingerprint(c *Config, data []byte) string {
	h := sha256.New()
	h.Write(data)
	write := func(name string, b []byte) {
		fmt.Fprintf(h, "\x00%s\x00%d\x00", name, len(b))
		h.Write(b)
	}
	write("key_file", []byte(strings.Join(c.Cluster.Keys, "\n")))
	write("token", []byte(c.Admin.Secret))
	write("cookie secrets", []byte(strings.Join(c.Cookies.Secrets, "\n")))
	for _, h := range c.Hooks {
		if h.Webhook != nil {
			write("hook secret", h.Webhook.Secret)
		}
	}
	for _, f := range c.GeoIP.Files {
		write(f.Path, f.Data)
	}
	for _, e := range c.AllEndpoints() {
		if e.Liveness != nil {
			write(e.ID+" liveness", e.Liveness.CAPEM)
		}
		if e.Readiness != nil {
			write(e.ID+" readiness", e.Readiness.CAPEM)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readSmallFile reads a regular file of at most limit bytes, so a config
// naming a device, a FIFO or a huge file cannot hang or exhaust a reload.
// The check is on the open file, so a swap between check and read cannot
// slip a FIFO in.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, larger than the limit of %d", path, st.Size(), limit)
	}
	// Sized from Stat as os.ReadFile does: growing from 512 bytes copies
	// a 50 MB config some twenty times over.
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than the limit of %d bytes", path, limit)
	}
	return data, nil
}

// decodeKeys decodes validated base64 keys, primary first, dropping
// repeats (a key in both keys and key_file is one key).
func decodeKeys(keys []string) [][]byte {
	var out [][]byte
	for _, k := range keys {
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(b) != 32 {
			continue // reported by validation
		}
		if !slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, b) }) {
			out = append(out, b)
		}
	}
	return out
}

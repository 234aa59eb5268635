package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxDepth bounds recursion so a hostile file (deep nesting, alias loops)
// cannot exhaust the stack.
const maxDepth = 64

// maxAliasValues bounds the values decoded through aliases and merge keys,
// so aliases that expand exponentially ("billion laughs") fail fast
// instead of eating the node. Plain values are bounded by the file size
// alone: a large zone is not an attack.
const maxAliasValues = 100000

// problems collects every Problem of one parse, and finds the line of
// any field path in the parsed file so later checks can point at lines
// too.
type problems struct {
	list []Problem
	// root is the parsed file, where locate finds a path's line.
	root *yaml.Node
	// bad marks paths whose value could not be decoded, so later checks do
	// not pile follow-on complaints onto the same field.
	bad map[string]bool
	// fatal is set when a limit stopped decoding: what was decoded is
	// partial, so validating it would only add follow-on noise.
	fatal bool
	// dropped counts problems past maxProblems, which are not kept; once
	// there are that many, decoding stops (setting fatal).
	dropped int
}

func newProblems() *problems {
	return &problems{bad: map[string]bool{}}
}

// present reports whether path was written in the file (directly or
// through a merge key).
func (p *problems) present(path string) bool {
	_, exact := locate(p.root, path, 0)
	return exact
}

// lineOf finds the line of path or of its nearest ancestor written in the file.
func (p *problems) lineOf(path string) int {
	line, _ := locate(p.root, path, 0)
	return line
}

// parentPath strips the last element: "a.b[2]" -> "a.b", "a.b" -> "a".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

func (p *problems) suppressed(path string) bool {
	for q := path; q != ""; q = parentPath(q) {
		if p.bad[q] {
			return true
		}
	}
	return false
}

// add records a problem at path, located at the line of path or its
// nearest written ancestor.
func (p *problems) add(path, format string, args ...any) {
	if p.suppressed(path) || p.full() {
		return
	}
	p.list = append(p.list, Problem{Path: path, Line: p.lineOf(path), Msg: fmt.Sprintf(format, args...)})
}

// addAt records a problem at an explicit line (used while decoding, when
// the path's own line is not the one to blame, e.g. a duplicate key).
func (p *problems) addAt(path string, line int, format string, args ...any) {
	if p.full() {
		return
	}
	p.list = append(p.list, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// full counts a problem past maxProblems instead of keeping it: a file of
// ten million wrong values must not cost ten million messages.
func (p *problems) full() bool {
	if len(p.list) < maxProblems {
		return false
	}
	p.dropped++
	return true
}

// decodeFail records a value that could not be decoded and suppresses
// later complaints about the same field.
func (p *problems) decodeFail(path string, line int, format string, args ...any) {
	p.addAt(path, line, format, args...)
	p.bad[path] = true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parseYAML parses data with go.yaml.in/yaml/v3 into its node tree (no
// value is decoded and no alias expanded there) and decodes it strictly
// into c: unknown keys, duplicate keys, wrong kinds and out-of-range
// numbers are all reported (not just the first), each with its path and
// line.
func parseYAML(data []byte, c *Config, p *problems) {
	bodies, err := parseDocuments(data)
	if err != nil {
		line, msg := syntaxError(err, data)
		p.addAt("", line, "YAML syntax error: %s", msg)
		p.fatal = true
		return
	}
	if len(bodies) > 1 {
		p.addAt("", bodies[1].Line, "the file holds %d YAML documents; want one", len(bodies))
		return
	}
	if len(bodies) == 0 {
		return // empty file: validation reports what is missing
	}
	p.root = bodies[0]
	d := &decoder{p: p, fields: map[reflect.Type]structFields{}}
	d.decode(bodies[0], reflect.ValueOf(c).Elem(), "")
}

// parseDocuments parses every document in data into a node tree and
// returns the bodies of those that are not empty.
func parseDocuments(data []byte) (bodies []*yaml.Node, err error) {
	defer func() {
		// The parser panics with an "internal error" on a few malformed
		// inputs instead of returning one; bad input must not stop gslbd.
		if r := recover(); r != nil {
			bodies, err = nil, fmt.Errorf("%v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return bodies, nil
		} else if err != nil {
			return nil, err
		}
		if len(doc.Content) == 1 && !isNull(doc.Content[0]) {
			bodies = append(bodies, doc.Content[0])
		}
	}
}

var (
	errLine       = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
	// parserProblem matches the parser's (not the scanner's) messages.
	parserProblem = regexp.MustCompile(`^(did not find expected|found duplicate %|found incompatible YAML|found undefined tag)`)
)

// syntaxError splits a YAML error into its line and message. The line
// yaml.v3 gives for a scanner error is right; for a parser error it is
// the line before the start of the enclosing block, so the line is found
// again by parserErrorLine. The parser names no line for an unknown
// anchor; the first use of the alias is it.
func syntaxError(err error, data []byte) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := errLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if parserProblem.MatchString(m[2]) {
			line = parserErrorLine(data, m[2])
		}
		return line, m[2]
	}
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			return 1 + bytes.Count(data[:i], []byte{'\n'}), "unknown alias *" + m[1]
		}
	}
	return 0, msg
}

// parserErrorLine is the line of the token a parser error is about,
// found again since yaml.v3 names the line before the enclosing block.
// Fed one byte at a time, the parser shows how far the scanner read: to
// the offending token plus some look-ahead, which may reach the next
// line holding something (its first token, when a comment sits between).
// So while the file cut after the line above still fails with the same
// message, the problem is there. It runs only for a refused file and
// parses it a few times at most.
func parserErrorLine(data []byte, msg string) int {
	r := &byteReader{data: data}
	func() {
		defer func() { _ = recover() }() // as in parseDocuments
		dec := yaml.NewDecoder(r)
		for {
			var doc yaml.Node
			if dec.Decode(&doc) != nil {
				return
			}
		}
	}()
	if r.off == 0 {
		return 1
	}
	lines := bytes.SplitAfter(data, []byte{'\n'})
	line := 1 + bytes.Count(data[:r.off-1], []byte{'\n'}) // of the last byte read
	// end is the offset just past line.
	end := func(line int) int {
		n := 0
		for _, l := range lines[:line] {
			n += len(l)
		}
		return n
	}
	for range 8 {
		prev := line - 1
		for prev > 0 {
			if t := bytes.TrimSpace(lines[prev-1]); len(t) > 0 && t[0] != '#' {
				break
			}
			prev--
		}
		if prev == 0 {
			break
		}
		_, err := parseDocuments(data[:end(prev)])
		if err == nil || errorText(err) != msg {
			break
		}
		line = prev
	}
	return line
}

// errorText is a YAML error's message without its "yaml: line N: " prefix.
func errorText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := errLine.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	return msg
}

// byteReader hands its data out one byte per Read.
type byteReader struct {
	data []byte
	off  int
}

func (r *byteReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[r.off]
	r.off++
	return 1, nil
}

type decoder struct {
	p     *problems
	depth int
	// expanding is above zero while decoding a value reached through an
	// alias or a merge key; only those values count against nodes.
	expanding int
	nodes     int
	fields    map[reflect.Type]structFields
}

type structFields struct {
	index map[string]int
	names []string
}

func nodeLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// resolve follows an alias to the node it names; viaAlias says it did.
// The parser links every alias to an anchored node that is not itself an
// alias, so one step suffices.
func resolve(n *yaml.Node) (_ *yaml.Node, viaAlias bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias, true
	}
	return n, false
}

// isNull reports a null scalar: empty, "~" or "null" unquoted.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && tagOf(n) == "!!null"
}

// tagOf is the YAML type of a scalar: its standard tag ("!!int",
// "!!str", ...) as written or resolved from its text. A value with a
// custom tag ("!foo 5") is typed by its text, as if untagged.
func tagOf(n *yaml.Node) string {
	if strings.HasPrefix(n.Tag, "!!") {
		return n.Tag
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return "!!str"
	}
	return (&yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}).ShortTag()
}

var durationType = reflect.TypeFor[Duration]()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.depth++
	defer func() { d.depth-- }()
	if d.p.fatal || d.p.dropped > 0 {
		return
	}
	if d.depth > maxDepth {
		d.p.decodeFail(path, nodeLine(n), "nesting too deep")
		return
	}
	line := nodeLine(n)
	n, viaAlias := resolve(n)
	if viaAlias {
		d.expanding++
		defer func() { d.expanding-- }()
	}
	if !d.spend(line, path) {
		return
	}
	if isNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Type() == durationType {
		d.duration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		d.decode(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.slice(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// kindName names the YAML shape of n for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func fieldMap(t reflect.Type) (map[string]int, []string) {
	m := map[string]int{}
	var names []string
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = i
		names = append(names, name)
	}
	return m, names
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.p.decodeFail(path, nodeLine(n), "want a mapping, got %s", kindName(n))
		return
	}
	sf, ok := d.fields[v.Type()]
	if !ok {
		sf.index, sf.names = fieldMap(v.Type())
		d.fields[v.Type()] = sf
	}
	fields, names := sf.index, sf.names
	// Merge keys ("<<: *base") go first so that explicit keys override them
	// wherever they are written. Keys are compared in a small slice: a
	// mapping holds a handful of them, and a map per mapping would cost
	// more than the whole decode of a large zone.
	var seen []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			d.merge(n.Content[i+1], v, path)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			continue
		}
		key := keyText(k)
		kpath := joinPath(path, key)
		kline := nodeLine(k)
		if slices.Contains(seen, key) {
			d.p.decodeFail(kpath, kline, "duplicate key %q", key)
			continue
		}
		seen = append(seen, key)
		fi, ok := fields[key]
		if !ok {
			d.p.addAt(kpath, kline, "unknown key %q%s", key, suggest(key, names))
			continue
		}
		d.decode(val, v.Field(fi), kpath)
	}
}

// spend counts one value decoded through an alias or merge key and
// reports false once the budget is gone; the first overrun is the one
// problem reported and stops the whole decode.
func (d *decoder) spend(line int, path string) bool {
	if d.expanding == 0 {
		return true
	}
	d.nodes++
	if d.nodes == maxAliasValues+1 {
		d.p.decodeFail(path, line, "aliases expand to more than %d values; refusing to decode (nested aliases multiply)", maxAliasValues)
		d.p.fatal = true
	}
	return d.nodes <= maxAliasValues
}

func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	d.expanding++
	defer func() { d.expanding-- }()
	d.depth++
	defer func() { d.depth-- }()
	if d.p.fatal || !d.spend(nodeLine(n), path) {
		return
	}
	if d.depth > maxDepth {
		d.p.decodeFail(path, nodeLine(n), "nesting too deep")
		return
	}
	n, _ = resolve(n)
	if n.Kind == yaml.SequenceNode {
		for _, item := range n.Content {
			item, _ = resolve(item)
			d.structure(item, v, path)
		}
		return
	}
	d.structure(n, v, path)
}

// keyText is a mapping key as written (an alias key is the text it names).
func keyText(k *yaml.Node) string {
	k, _ = resolve(k)
	if k.Kind != yaml.ScalarNode {
		return ""
	}
	return k.Value
}

// suggest offers the closest known key for a misspelt one.
func suggest(key string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return " (known keys: " + strings.Join(sorted, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (d *decoder) slice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.p.decodeFail(path, nodeLine(n), "want a list, got %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := path + "[" + strconv.Itoa(i) + "]"
		d.decode(item, out.Index(i), ip)
	}
	v.Set(out)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.p.decodeFail(path, nodeLine(n), "want a mapping, got %s", kindName(n))
		return
	}
	out := reflect.MakeMap(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := keyText(k)
		kpath := joinPath(path, key)
		kline := nodeLine(k)
		if seen[key] {
			d.p.decodeFail(kpath, kline, "duplicate key %q", key)
			continue
		}
		seen[key] = true
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, ev, kpath)
		out.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
	}
	v.Set(out)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	line := nodeLine(n)
	if n.Kind != yaml.ScalarNode {
		d.p.decodeFail(path, line, "want a single value, got %s", kindName(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		// The text as written, so a TXT value of 0123 stays "0123".
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := boolValue(n)
		if !ok {
			d.p.decodeFail(path, line, "want true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := intValue(n)
		if !ok || v.OverflowInt(i) {
			d.p.decodeFail(path, line, "want an integer that fits %s, got %s", v.Kind(), kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := intValue(n)
		if !ok || i < 0 || v.OverflowUint(uint64(i)) {
			d.p.decodeFail(path, line, "want a whole number from 0 to %d, got %s",
				uint64(1)<<(v.Type().Bits())-1, kindName(n))
			return
		}
		v.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		f, ok := floatValue(n)
		if !ok {
			d.p.decodeFail(path, line, "want a number, got %s", kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		// Only reachable if config.go gains a field of a kind not handled
		// above; fail loudly rather than silently ignoring it.
		d.p.decodeFail(path, line, "internal: cannot decode into %s", v.Type())
	}
}

// boolValue reads a YAML 1.2 boolean (true or false, in any of its
// three spellings).
func boolValue(n *yaml.Node) (bool, bool) {
	if tagOf(n) != "!!bool" {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// intValue reads an integer scalar (decimal, 0x, 0o, 0b, '_' separators);
// values beyond int64 do not fit any field we have and are not ok.
func intValue(n *yaml.Node) (int64, bool) {
	if tagOf(n) != "!!int" {
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	return i, err == nil
}

// floatValue reads a finite number scalar, integer or not: .inf and .nan
// are no coordinate, weight or duration.
func floatValue(n *yaml.Node) (float64, bool) {
	switch tagOf(n) {
	case "!!int":
		i, ok := intValue(n)
		return float64(i), ok
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return 0, false
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	line := nodeLine(n)
	if n.Kind != yaml.ScalarNode {
		d.p.decodeFail(path, line, "want a duration such as 1s or 500ms, got %s", kindName(n))
		return
	}
	var (
		dur time.Duration
		err error
	)
	switch tagOf(n) {
	case "!!int", "!!float":
		f, ok := floatValue(n)
		if !ok {
			err = fmt.Errorf("duration %s is out of range", n.Value)
			break
		}
		dur, err = secondsDuration(f, n.Value)
	default:
		dur, err = parseDuration(n.Value)
	}
	if err != nil {
		d.p.decodeFail(path, line, "%v", err)
		return
	}
	v.SetInt(int64(dur))
}

// parseDuration accepts Go duration syntax ("1m30s", "500ms") or a bare
// number of seconds ("5", "0.5").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration; want e.g. 1s or 500ms")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return secondsDuration(f, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q; want e.g. 1s, 500ms or a number of seconds", s)
	}
	return d, nil
}

func secondsDuration(sec float64, text string) (time.Duration, error) {
	if math.IsNaN(sec) || math.IsInf(sec, 0) || math.Abs(sec) > float64(math.MaxInt64)/float64(time.Second) {
		return 0, fmt.Errorf("duration %s is out of range", text)
	}
	return time.Duration(sec * float64(time.Second)), nil
}

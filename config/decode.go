package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxDepth bounds recursion so a hostile file (deep nesting, alias loops)
// cannot exhaust the stack.
const maxDepth = 64

// maxAliasValues bounds the values decoded through aliases and merge keys,
// so aliases that expand exponentially ("billion laughs") fail fast
// instead of eating the node. Plain values are bounded by the file size
// alone: a large zone is not an attack.
const maxAliasValues = 100000

// problems collects every Problem of one parse, with the line of every
// field path seen in the source so later checks can point at lines too.
type problems struct {
	list []Problem
	// lines maps a field path ("zones[0].names[1]") to its 1-based line;
	// a path is present exactly when the key or item was in the file.
	lines map[string]int
	// bad marks paths whose value could not be decoded, so later checks do
	// not pile follow-on complaints onto the same field.
	bad map[string]bool
	// fatal is set when a limit stopped decoding: what was decoded is
	// partial, so validating it would only add follow-on noise.
	fatal bool
}

func newProblems() *problems {
	return &problems{lines: map[string]int{}, bad: map[string]bool{}}
}

// present reports whether path was written in the file.
func (p *problems) present(path string) bool {
	_, ok := p.lines[path]
	return ok
}

// lineOf finds the line of path or of its nearest ancestor written in the file.
func (p *problems) lineOf(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
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
	if p.suppressed(path) {
		return
	}
	p.list = append(p.list, Problem{Path: path, Line: p.lineOf(path), Msg: fmt.Sprintf(format, args...)})
}

// addAt records a problem at an explicit line (used while decoding, when
// the path's own line is not the one to blame, e.g. a duplicate key).
func (p *problems) addAt(path string, line int, format string, args ...any) {
	p.list = append(p.list, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
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

// parseYAML parses data with goccy/go-yaml and decodes it strictly into c:
// unknown keys, duplicate keys, wrong kinds and out-of-range numbers are
// all reported (not just the first), each with its path and line.
func parseYAML(data []byte, c *Config, p *problems) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		line := 0
		msg := err.Error()
		var ye yaml.Error
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				line = tk.Position.Line
			}
		}
		p.addAt("", line, "YAML syntax error: %s", msg)
		p.fatal = true
		return
	}
	var bodies []ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, ok := doc.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		bodies = append(bodies, doc.Body)
	}
	if len(bodies) > 1 {
		p.addAt("", nodeLine(bodies[1]), "the file holds %d YAML documents; want one", len(bodies))
		return
	}
	if len(bodies) == 0 {
		return // empty file: validation reports what is missing
	}
	d := &decoder{p: p, anchors: map[string]ast.Node{}, fields: map[reflect.Type]structFields{}}
	// Register every anchor first, so an anchor kept under an unknown key
	// (already reported) does not also make its aliases fail.
	ast.Walk(anchorCollector(d.anchors), bodies[0])
	d.decode(bodies[0], reflect.ValueOf(c).Elem(), "")
}

type decoder struct {
	p       *problems
	anchors map[string]ast.Node
	depth   int
	// expanding is above zero while decoding a value reached through an
	// alias or a merge key; only those values count against nodes.
	expanding int
	nodes     int
	// viaAlias is set by resolve when it followed an alias.
	viaAlias bool
	fields   map[reflect.Type]structFields
}

type structFields struct {
	index map[string]int
	names []string
}

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// resolve follows anchors, aliases and tags to the node holding the value.
func (d *decoder) resolve(n ast.Node, path string) ast.Node {
	for range maxDepth {
		switch t := n.(type) {
		case *ast.AnchorNode:
			if t.Name != nil {
				d.anchors[t.Name.GetToken().Value] = t.Value
			}
			n = t.Value
		case *ast.AliasNode:
			name := ""
			if t.Value != nil {
				name = t.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.p.decodeFail(path, nodeLine(t), "unknown alias *%s", name)
				return nil
			}
			d.viaAlias = true
			n = target
		case *ast.TagNode:
			n = t.Value
		case *ast.CommentGroupNode:
			return nil
		default:
			return n
		}
	}
	d.p.decodeFail(path, nodeLine(n), "anchors and aliases nest too deeply")
	return nil
}

var durationType = reflect.TypeFor[Duration]()

func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	d.depth++
	defer func() { d.depth-- }()
	if d.p.fatal {
		return
	}
	if d.depth > maxDepth {
		d.p.decodeFail(path, nodeLine(n), "nesting too deep")
		return
	}
	line := nodeLine(n)
	d.viaAlias = false
	n = d.resolve(n, path)
	if d.viaAlias {
		d.expanding++
		defer func() { d.expanding-- }()
	}
	if !d.spend(line, path) || n == nil {
		return
	}
	if _, ok := d.p.lines[path]; !ok && path != "" {
		d.p.lines[path] = nodeLine(n)
	}
	if n.Type() == ast.NullType {
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
func kindName(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", scalarText(n))
	}
}

// scalarText is the source text of a scalar as the user wrote it (so a TXT
// value of 0123 stays "0123").
func scalarText(n ast.Node) string {
	switch t := n.(type) {
	case *ast.StringNode:
		return t.Value
	case *ast.LiteralNode:
		if t.Value != nil {
			return t.Value.Value
		}
		return ""
	case *ast.NullNode:
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return false
	}
	return true
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

func (d *decoder) structure(n ast.Node, v reflect.Value, path string) {
	mn, ok := n.(ast.MapNode)
	if !ok {
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
	// wherever they are written.
	var own []*ast.MappingValueNode
	for it := mn.MapRange(); it.Next(); {
		kv := it.KeyValue()
		if kv.Key != nil && kv.Key.IsMergeKey() {
			d.merge(kv.Value, v, path)
			continue
		}
		own = append(own, kv)
	}
	seen := map[string]bool{}
	for _, kv := range own {
		key := keyText(kv.Key)
		kpath := joinPath(path, key)
		kline := nodeLine(kv.Key)
		if seen[key] {
			d.p.decodeFail(kpath, kline, "duplicate key %q", key)
			continue
		}
		seen[key] = true
		i, ok := fields[key]
		if !ok {
			d.p.addAt(kpath, kline, "unknown key %q%s", key, suggest(key, names))
			continue
		}
		d.p.lines[kpath] = kline
		d.decode(kv.Value, v.Field(i), kpath)
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

func (d *decoder) merge(n ast.Node, v reflect.Value, path string) {
	d.expanding++
	defer func() { d.expanding-- }()
	if !d.spend(nodeLine(n), path) {
		return
	}
	n = d.resolve(n, path)
	switch t := n.(type) {
	case nil:
	case *ast.SequenceNode:
		for _, item := range t.Values {
			d.structure(d.resolve(item, path), v, path)
		}
	default:
		d.structure(n, v, path)
	}
}

func keyText(k ast.MapKeyNode) string {
	if k == nil {
		return ""
	}
	if mk, ok := k.(*ast.MappingKeyNode); ok && mk.Value != nil {
		return scalarText(mk.Value)
	}
	return scalarText(k)
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

func (d *decoder) slice(n ast.Node, v reflect.Value, path string) {
	sn, ok := n.(*ast.SequenceNode)
	if !ok {
		d.p.decodeFail(path, nodeLine(n), "want a list, got %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(sn.Values), len(sn.Values))
	for i, item := range sn.Values {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.p.lines[ip] = nodeLine(item)
		d.decode(item, out.Index(i), ip)
	}
	v.Set(out)
}

func (d *decoder) mapping(n ast.Node, v reflect.Value, path string) {
	mn, ok := n.(ast.MapNode)
	if !ok {
		d.p.decodeFail(path, nodeLine(n), "want a mapping, got %s", kindName(n))
		return
	}
	out := reflect.MakeMap(v.Type())
	seen := map[string]bool{}
	for it := mn.MapRange(); it.Next(); {
		kv := it.KeyValue()
		key := keyText(kv.Key)
		kpath := joinPath(path, key)
		kline := nodeLine(kv.Key)
		if seen[key] {
			d.p.decodeFail(kpath, kline, "duplicate key %q", key)
			continue
		}
		seen[key] = true
		d.p.lines[kpath] = kline
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(kv.Value, ev, kpath)
		out.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
	}
	v.Set(out)
}

func (d *decoder) scalar(n ast.Node, v reflect.Value, path string) {
	line := nodeLine(n)
	if !isScalar(n) {
		d.p.decodeFail(path, line, "want a single value, got %s", kindName(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(scalarText(n))
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.p.decodeFail(path, line, "want true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b.Value)
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
		var f float64
		switch t := n.(type) {
		case *ast.FloatNode:
			f = t.Value
		case *ast.IntegerNode:
			i, _ := intValue(t)
			f = float64(i)
		default:
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

// intValue reads an integer node; uint64 values above MaxInt64 do not fit
// any field we have and are reported as not ok.
func intValue(n ast.Node) (int64, bool) {
	t, ok := n.(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	switch x := t.Value.(type) {
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

func (d *decoder) duration(n ast.Node, v reflect.Value, path string) {
	line := nodeLine(n)
	if !isScalar(n) {
		d.p.decodeFail(path, line, "want a duration such as 1s or 500ms, got %s", kindName(n))
		return
	}
	var (
		dur time.Duration
		err error
	)
	switch t := n.(type) {
	case *ast.IntegerNode:
		i, ok := intValue(t)
		if !ok {
			err = fmt.Errorf("duration %s is out of range", t.GetToken().Value)
			break
		}
		dur, err = secondsDuration(float64(i), t.GetToken().Value)
	case *ast.FloatNode:
		dur, err = secondsDuration(t.Value, t.GetToken().Value)
	default:
		dur, err = parseDuration(scalarText(n))
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

// anchorCollector records anchors for ast.Walk.
type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if t, ok := n.(*ast.AnchorNode); ok && t.Name != nil {
		if _, seen := a[t.Name.GetToken().Value]; !seen {
			a[t.Name.GetToken().Value] = t.Value
		}
	}
	return a
}

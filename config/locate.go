package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// locate finds the line of a field path ("zones[0].names[1].ttl") in the
// parsed file when a problem or a presence check needs it, instead of
// recording the line of every value while decoding: a zone of 100,000
// names has millions of paths, and a map of them cost more than the
// parse itself. It returns the line of the path, exact, or else of its
// nearest ancestor written in the file. Keys merged in with "<<" count as
// written where the merged mapping has them; a mapping's own key wins
// over a merged one, and the first of duplicate keys wins, as in decoding.
func locate(n *yaml.Node, path string, depth int) (line int, exact bool) {
	if n == nil || path == "" || depth > maxDepth {
		return 0, false
	}
	n, _ = resolve(n)
	if path[0] == '[' {
		end := strings.IndexByte(path, ']')
		i, err := strconv.Atoi(path[1:max(end, 1)])
		if end < 0 || err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
			return 0, false
		}
		item := n.Content[i]
		return below(item.Line, item, path[end+1:], depth)
	}
	if n.Kind != yaml.MappingNode {
		return 0, false
	}
	// Own keys first: a key may itself hold '.' or '[' (labels, env), so
	// every key that the path starts with is tried, the first that leads
	// all the way winning.
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			continue
		}
		key := keyText(k)
		if !strings.HasPrefix(path, key) {
			continue
		}
		rest := path[len(key):]
		if rest != "" && rest[0] != '.' && rest[0] != '[' {
			continue
		}
		l, ok := below(k.Line, n.Content[i+1], rest, depth)
		if ok {
			return l, true
		}
		if line == 0 {
			line = l
		}
	}
	if line != 0 {
		return line, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			continue
		}
		src, _ := resolve(n.Content[i+1])
		sources := []*yaml.Node{src}
		if src.Kind == yaml.SequenceNode {
			sources = src.Content
		}
		for _, s := range sources {
			if l, ok := locate(s, path, depth+1); ok || l != 0 {
				return l, ok
			}
		}
	}
	return 0, false
}

// below continues locate under v, the value of a key or an item written
// at line: rest is what is left of the path ("", ".key..." or "[i]...").
func below(line int, v *yaml.Node, rest string, depth int) (int, bool) {
	if rest == "" {
		return line, true
	}
	if l, ok := locate(v, strings.TrimPrefix(rest, "."), depth+1); l != 0 {
		return l, ok
	}
	return line, false
}

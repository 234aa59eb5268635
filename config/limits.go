package config

import (
	"bytes"
)

// utf8BOM is accepted (and dropped) at the start of a file: editors on
// some systems write one.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// precheck refuses, before the YAML parser sees it, a file that is too
// large or nested too deeply: the parser's time and memory grow far
// faster than the file for deep nesting (a 34 KB file of nested flow
// sequences took 442 MB). It adds one problem, marks the parse fatal and
// reports false when data must not be parsed.
func precheck(data []byte, p *problems) bool {
	if len(data) > MaxFileSize {
		p.addAt("", 0, "the file is %d bytes; the limit is %d", len(data), MaxFileSize)
		p.fatal = true
		return false
	}
	if line, depth := nesting(data); depth > maxDepth {
		p.addAt("", line, "nesting deeper than %d levels; refusing to parse", maxDepth)
		p.fatal = true
		return false
	}
	return true
}

// nesting estimates the deepest nesting in a YAML text without parsing
// it, and the line where it first exceeds maxDepth (else the deepest
// line). Block nesting is the number of distinct indentation levels open
// plus the "- " sequence markers starting a line; flow nesting counts
// open '[' and '{' outside quotes and comments. It may over-count odd
// layouts (text inside block scalars), which at maxDepth levels no
// config has.
func nesting(data []byte) (line, deepest int) {
	var indents []int // open block indentation levels
	flow := 0
	for n, raw := range bytes.Split(data, []byte{'\n'}) {
		ln := n + 1
		i := 0
		for i < len(raw) && raw[i] == ' ' {
			i++
		}
		rest := raw[i:]
		if flow == 0 {
			if len(bytes.TrimSpace(rest)) == 0 || rest[0] == '#' {
				continue
			}
			for len(indents) > 0 && indents[len(indents)-1] >= i {
				indents = indents[:len(indents)-1]
			}
			indents = append(indents, i)
		}
		depth := len(indents) + flow
		// Sequence markers at the start of the line each open a level.
		for j := 0; j+1 < len(rest) && rest[j] == '-' && (rest[j+1] == ' ' || rest[j+1] == '\t'); {
			depth++
			j += 2
			for j < len(rest) && rest[j] == ' ' {
				j++
			}
		}
		var quote byte
		for j := 0; j < len(rest); j++ {
			ch := rest[j]
			switch {
			case quote != 0:
				if ch == quote {
					quote = 0
				}
			case ch == '\'' || ch == '"':
				quote = ch
			case ch == '#' && (j == 0 || rest[j-1] == ' ' || rest[j-1] == '\t'):
				j = len(rest)
			case ch == '[' || ch == '{':
				flow++
				depth = max(depth, len(indents)+flow)
			case ch == ']' || ch == '}':
				if flow > 0 {
					flow--
				}
			}
			if depth > maxDepth {
				return ln, depth
			}
		}
		if depth > deepest {
			deepest, line = depth, ln
		}
		if deepest > maxDepth {
			return line, deepest
		}
	}
	return line, deepest
}

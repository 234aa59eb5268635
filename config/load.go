package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	// Path is the field path, e.g. "zones[0].names[1].endpoints[0].addresses[2]".
	// It is empty for problems with the file as a whole (YAML syntax).
	Path string
	// Line is the 1-based line in the source, 0 when unknown.
	Line int
	Msg  string
}

// String formats p as "LINE: PATH: MSG", leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in one file. Its Error() has one
// problem per line: "FILE:LINE: PATH: MSG" (":LINE" is left out when the
// line is unknown, "PATH: " when the problem is with the whole file).
// Parse returns Problems sorted by line, problems without a line last.
type Error struct {
	Source   string
	Problems []Problem
}

// Error returns every problem, one per line: "FILE:LINE: PATH: MSG".
func (e *Error) Error() string {
	src := e.Source
	if src == "" {
		src = "config"
	}
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(src)
		if p.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
		if p.Path != "" {
			b.WriteString(p.Path)
			b.WriteString(": ")
		}
		b.WriteString(p.Msg)
	}
	if len(e.Problems) == 0 {
		b.WriteString(src + ": invalid")
	}
	return b.String()
}

// maxProblems caps the list so a garbage file gives a readable error.
const maxProblems = 200

// Parse decodes data strictly, fills defaults, derives values and
// validates everything, returning *Error with every problem when invalid.
// source names the file in messages. Parse reads no file: the files a
// config names (key, token, CA and GeoIP files) are read by Prepare,
// which is what check, start and reload run. Parse serves tests and
// tools that want the model of a config without its files; apart from
// the host name default it is a pure function of its input.
func Parse(data []byte, source string) (*Config, error) {
	return run(data, source, false)
}

// run is the pipeline behind Parse and Prepare: size and nesting limits,
// strict decode, defaults and validation, then (withFiles) every named
// file. All problems are collected into one *Error.
func run(data []byte, source string, withFiles bool) (*Config, error) {
	c := &Config{}
	p := newProblems()
	data = bytes.TrimPrefix(data, utf8BOM)
	if precheck(data, p) {
		parseYAML(data, c, p)
	}
	// Problems past the cap stop the decode, and what was decoded is then
	// partial: validating it would only add follow-on noise.
	decodeStopped := p.dropped > 0
	if !p.fatal && !decodeStopped {
		check(c, p)
		c.AssignProbeIDs()
		if withFiles {
			resolveFiles(c, p)
		}
	}
	switch {
	case decodeStopped:
		p.list = append(p.list, Problem{Msg: fmt.Sprintf("more problems not shown: decoding stopped after the first %d", maxProblems)})
	case p.dropped > 0:
		p.list = append(p.list, Problem{Msg: fmt.Sprintf("%d more problems not shown", p.dropped)})
	}
	if len(p.list) > 0 {
		sort.SliceStable(p.list, func(i, j int) bool {
			li, lj := p.list[i].Line, p.list[j].Line
			if (li == 0) != (lj == 0) {
				return lj == 0
			}
			return li < lj
		})
		return nil, &Error{Source: source, Problems: p.list}
	}
	sum := sha256.Sum256(data)
	c.Hash = hex.EncodeToString(sum[:])
	c.Fingerprint = fingerprint(c, data)
	c.Source = source
	return c, nil
}

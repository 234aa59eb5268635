package config

import (
	"errors"
)

// CONTRACT STUB: the config helper replaces the bodies; signatures are fixed.

// Problem is one thing wrong with a config file.
type Problem struct {
	// Path is the field path, e.g. "zones[0].names[1].endpoints[0].addresses[2]".
	Path string
	// Line is the 1-based line in the source, 0 when unknown.
	Line int
	Msg  string
}

// Error lists every problem found in one file. Its Error() has one
// problem per line: "FILE:LINE: PATH: MSG".
type Error struct {
	Source   string
	Problems []Problem
}

func (e *Error) Error() string { return "config: invalid" }

// Parse decodes data strictly, fills defaults and validates everything,
// returning *Error with every problem when invalid. source names the file
// in messages.
func Parse(data []byte, source string) (*Config, error) {
	return nil, errors.New("config: not implemented")
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	return nil, errors.New("config: not implemented")
}

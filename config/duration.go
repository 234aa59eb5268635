package config

import (
	"fmt"
	"time"
)

// UnmarshalYAML lets go-yaml style decoders (yaml.v3's Unmarshal) read a
// Duration written as "1s", "500ms" or a bare number of seconds. Parse does
// not need it (it decodes from the AST itself) but callers decoding parts of
// a config with yaml.Unmarshal get the same rules.
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var raw any
	if err := unmarshal(&raw); err != nil {
		return err
	}
	var (
		v   time.Duration
		err error
	)
	switch x := raw.(type) {
	case nil:
		v = 0
	case string:
		v, err = parseDuration(x)
	case int:
		v, err = secondsDuration(float64(x), fmt.Sprint(x))
	case int64:
		v, err = secondsDuration(float64(x), fmt.Sprint(x))
	case uint64:
		v, err = secondsDuration(float64(x), fmt.Sprint(x))
	case float64:
		v, err = secondsDuration(x, fmt.Sprint(x))
	default:
		err = fmt.Errorf("want a duration such as 1s or 500ms, got %T", raw)
	}
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// UnmarshalText accepts the same forms as UnmarshalYAML, for JSON and flags.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the Go form ("1m30s"), which UnmarshalText reads back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String is the Go form of the duration, e.g. "500ms".
func (d Duration) String() string { return time.Duration(d).String() }

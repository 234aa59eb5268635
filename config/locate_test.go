package config

import (
	"testing"
)

// TestLocate: the line of a field path comes from the parsed file, through
// lists, merge keys, aliases and keys holding dots; a path not written
// gets the line of its nearest written ancestor.
func TestLocate(t *testing.T) {
	src := `items:
  - &item
    name: b
base: &base
  interval: 5s
  timeout: 1s
zones:
  - apex: example.test
    names:
      - name: a
        labels:
          app.kubernetes.io/name: web
          app: other
        liveness:
          <<: *base
          timeout: 2s
      - *item
node: x
node: y
`
	bodies, err := parseDocuments([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p := newProblems()
	p.root = bodies[0]
	for _, tc := range []struct {
		path    string
		line    int
		present bool
	}{
		{"zones", 7, true},
		{"zones[0]", 8, true},
		{"zones[0].names[0].name", 10, true},
		{"zones[0].names[0].labels.app.kubernetes.io/name", 12, true},
		{"zones[0].names[0].labels.app", 13, true},
		{"zones[0].names[0].labels.app.other", 13, false},
		{"zones[0].names[0].liveness.timeout", 16, true},
		{"zones[0].names[0].liveness.interval", 5, true},
		{"zones[0].names[0].liveness.rise", 14, false},
		{"zones[0].names[0].ttl", 10, false},
		{"zones[0].names[1]", 17, true},
		{"zones[0].names[1].name", 3, true},
		{"zones[0].names[2]", 9, false},
		{"zones[1].apex", 7, false},
		{"node", 18, true},
		{"missing", 0, false},
		{"", 0, false},
	} {
		if got := p.lineOf(tc.path); got != tc.line {
			t.Errorf("lineOf(%q) = %d, want %d", tc.path, got, tc.line)
		}
		if got := p.present(tc.path); got != tc.present {
			t.Errorf("present(%q) = %v, want %v", tc.path, got, tc.present)
		}
	}
}

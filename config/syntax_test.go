package config

import (
	"strings"
	"testing"
)

// TestSyntaxErrorLines: a YAML syntax error is one problem at the line of
// the offending text, for the scanner's errors and the parser's alike.
func TestSyntaxErrorLines(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line      int
		msg       string
	}{
		{"sequence item outdented", "regions:\n  - name: r1\n    latitude: 1\n  longitude: [2\nzones: []\n", 4, "did not find expected '-' indicator"},
		{"second colon", "node: a\nhealth:\n  rise: : 3\nzones: []\n", 3, "mapping values are not allowed"},
		{"key indented too far", "health:\n  rise: 1\n   fall: 2\nzones: []\n", 3, "mapping values are not allowed"},
		{"key outdented after a list", "regions:\n  - x\n  - y\n zones: 2\nnode: 3\nadmin: 4\n", 4, "did not find expected key"},
		{"mapping key outdented", "health:\n  rise: 1\n  fall: 2\n node: 3\nzones: []\n", 4, "did not find expected key"},
		{"list item after keys", "node: a\n- b\n\n# note\nzones: []\n", 2, "did not find expected key"},
		{"list item after keys, short line next", "node: a\n- b\nc: 3\n", 2, "did not find expected key"},
		{"tab indentation", "node: a\nregions:\n\t- x\nzones: []\n", 3, "found character that cannot start any token"},
		{"reserved character", "node: a\nadmin: @x\nzones: []\n", 2, "found character that cannot start any token"},
		{"names item outdented", "zones:\n  - apex: x\n    names:\n      - name: a\n        endpoints: []\n" +
			"      - name: b\n      endpoints: []\n      - name: c\n", 7, "did not find expected '-' indicator"},
		{"flow list left open", "node: a\nregions: [1, 2\nzones: 2\nadmin: 3\n", 2, "did not find expected ',' or ']'"},
		{"unknown alias", "node: a\n\nadmin: *nope\n", 3, "unknown alias *nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := parseErr(t, tc.src)
			if len(e.Problems) != 1 {
				t.Fatalf("want one problem, got:\n%v", e)
			}
			p := e.Problems[0]
			if p.Line != tc.line || !strings.Contains(p.Msg, tc.msg) || !strings.HasPrefix(p.Msg, "YAML syntax error: ") {
				t.Errorf("got %q at line %d, want %q at line %d", p.Msg, p.Line, tc.msg, tc.line)
			}
		})
	}
}

// TestScalarTypes: YAML 1.2 typing of plain scalars, as the decoder applies
// it to each field's kind.
func TestScalarTypes(t *testing.T) {
	region := func(lat string) string {
		return "regions:\n  - {name: r1, latitude: " + lat + ", longitude: 2}\nzones:\n  - apex: example.test\n    nameservers: [{name: ns1.example.net.}]\n"
	}
	for _, tc := range []struct {
		lat  string
		want float64
	}{{"1", 1}, {"-12.5", -12.5}, {"1e1", 10}, {"0x10", 16}, {"1_0", 10}} {
		c := mustParse(t, region(tc.lat))
		if got := c.Regions[0].Latitude; got != tc.want {
			t.Errorf("latitude %s: got %v, want %v", tc.lat, got, tc.want)
		}
	}
	for _, lat := range []string{".nan", ".inf", "-.inf", "north", `"1"`, "true"} {
		e := parseErr(t, region(lat))
		if len(e.Problems) != 1 || e.Problems[0].Path != "regions[0].latitude" || !strings.Contains(e.Problems[0].Msg, "want a number") || e.Problems[0].Line != 2 {
			t.Errorf("latitude %s: %v", lat, e)
		}
	}
	for _, tc := range []struct{ v, msg string }{
		{"yes", "want an integer"}, {"1.5", "want an integer"}, {"'2'", "want an integer"},
		{"18446744073709551615", "want an integer"}, {"-1", "at least 1"},
	} {
		e := parseErr(t, minimal+"health: {rise: "+tc.v+"}\n")
		if len(e.Problems) != 1 || e.Problems[0].Path != "health.rise" || !strings.Contains(e.Problems[0].Msg, tc.msg) {
			t.Errorf("rise %s: %v", tc.v, e)
		}
	}
	for _, tc := range []struct{ v, want string }{{"0123", "0123"}, {"'x-y'", "x-y"}, {"true", "true"}, {"1e3", "1e3"}} {
		c := mustParse(t, minimal+"node: "+tc.v+"\n")
		if c.Node != tc.want {
			t.Errorf("node %s: got %q, want %q", tc.v, c.Node, tc.want)
		}
	}
}

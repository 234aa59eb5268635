package config

import (
	"reflect"
	"testing"
	"time"
)

// TestProbeKeyCoversEverySetting changes each field of Probe and
// Readiness in turn and expects a different key: a field added later and
// left out of probeKey would make endpoints that probe differently share
// a prober.
func TestProbeKeyCoversEverySetting(t *testing.T) {
	baseL := func() *Probe {
		return &Probe{Type: "http", URL: "http://db1.example:8080/health", Method: "GET", ExpectStatus: []int{200},
			Interval: Duration(time.Second), Timeout: Duration(time.Second / 2), Rise: 2, Fall: 3, FastInterval: Duration(time.Second / 4)}
	}
	baseR := func() *Readiness {
		return &Readiness{Type: "prometheus", URL: "http://db1.example:9187/metrics", Metric: "lag", Labels: map[string]string{"a": "b"},
			MaxLag: Duration(10 * time.Second), Hold: Duration(30 * time.Second), Interval: Duration(time.Second), Timeout: Duration(time.Second / 2)}
	}
	key := func(l *Probe, r *Readiness) string { return string(probeKey(l, r)) }
	id := key(baseL(), baseR())
	if id != key(baseL(), baseR()) {
		t.Fatal("equal settings give different keys")
	}
	if key(baseL(), nil) == id || key(nil, baseR()) == id || key(baseL(), nil) == key(nil, nil) {
		t.Error("dropping a probe keeps the key")
	}
	// bump sets a field to a value different from base's.
	bump := func(f reflect.Value) bool {
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Int, reflect.Int64:
			f.SetInt(f.Int() + 7)
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.Uint8 {
				return false // CAPEM: content read later, see probeKey
			}
			f.Set(reflect.Append(f, reflect.ValueOf(201)))
		case reflect.Map:
			f.SetMapIndex(reflect.ValueOf("zz"), reflect.ValueOf("1"))
		default:
			t.Fatalf("field kind %s not handled by the test", f.Kind())
		}
		return true
	}
	for _, tc := range []struct {
		name string
		make func() (*Probe, *Readiness, reflect.Value)
	}{
		{"liveness", func() (*Probe, *Readiness, reflect.Value) { l := baseL(); return l, baseR(), reflect.ValueOf(l).Elem() }},
		{"readiness", func() (*Probe, *Readiness, reflect.Value) { r := baseR(); return baseL(), r, reflect.ValueOf(r).Elem() }},
	} {
		_, _, v := tc.make()
		for i := range v.NumField() {
			l, r, v := tc.make()
			name := v.Type().Field(i).Name
			if !bump(v.Field(i)) {
				continue
			}
			if key(l, r) == id {
				t.Errorf("%s.%s is not part of the probe key", tc.name, name)
			}
		}
	}
}

// TestProbeIDs: endpoints that probe alike share the first one's ID,
// whatever names they belong to; other settings or no probes do not.
func TestProbeIDs(t *testing.T) {
	c, err := Parse([]byte(`
regions: [{name: eu, latitude: 50, longitude: 8}, {name: us, latitude: 40, longitude: -75}]
health: {interval: 2s}
zones:
  - apex: gslb.example
    nameservers: [{name: ns.example.net.}]
    names:
      - name: www
        endpoints:
          - {region: eu, addresses: [192.0.2.1], liveness: {url: "http://lb-eu.example/health"}}
          - {region: us, addresses: [192.0.2.2], liveness: {url: "http://lb-us.example/health"}}
      - name: api
        endpoints:
          - {region: eu, addresses: [192.0.2.1], liveness: {url: "http://lb-eu.example/health", interval: 2s}}
          - {region: us, addresses: [192.0.2.2], liveness: {url: "http://lb-us.example/health", fall: 9}}
      - name: static
        endpoints:
          - {region: eu, addresses: [192.0.2.3]}
`), "probeids.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range c.AllEndpoints() {
		got[e.ID] = e.ProbeID
	}
	want := map[string]string{
		"eu@www.gslb.example": "eu@www.gslb.example",
		"us@www.gslb.example": "us@www.gslb.example",
		// The default interval written out is the same setting.
		"eu@api.gslb.example":    "eu@www.gslb.example",
		"us@api.gslb.example":    "us@api.gslb.example",
		"eu@static.gslb.example": "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("probe IDs %v, want %v", got, want)
	}
}

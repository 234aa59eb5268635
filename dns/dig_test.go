package dns

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gslbd/gslbd/gslb"

	"github.com/gslbd/gslbd/internal/testenv"
)

// needDig returns dig's path, skipping the test without it (failing under CI).
func needDig(t *testing.T) string {
	t.Helper()
	return testenv.NeedTool(t, "dig", "bind9-dnsutils")
}

// digResult is the part of dig's output the tests look at.
type digResult struct {
	status  string
	flags   []string
	answers []string // "name ttl class type data", whitespace collapsed
	ecs     string   // "81.2.69.0/24/24" from the CLIENT-SUBNET line
	raw     string
}

var (
	digFlags = regexp.MustCompile(`;; flags: ([a-z ]*);`)
	digECS   = regexp.MustCompile(`; CLIENT-SUBNET: (\S+)`)
)

func runDig(t *testing.T, dig, addr string, args ...string) digResult {
	t.Helper()
	// dig's column of lookupTools, with dig at the path the test found.
	out, _, _ := lookupTool{"dig", dig, []string{"+tries=1", "+time=5", "+norecurse"}}.run(t, addr, args...)
	r := digResult{raw: out}
	if m := toolStatus.FindStringSubmatch(r.raw); m != nil {
		r.status = m[1]
	}
	if m := digFlags.FindStringSubmatch(r.raw); m != nil {
		r.flags = strings.Fields(m[1])
	}
	if m := digECS.FindStringSubmatch(r.raw); m != nil {
		r.ecs = m[1]
	}
	inAnswer := false
	for line := range strings.SplitSeq(r.raw, "\n") {
		switch {
		case strings.HasPrefix(line, ";; ANSWER SECTION:"):
			inAnswer = true
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, ";"):
			inAnswer = false
		case inAnswer:
			r.answers = append(r.answers, strings.Join(strings.Fields(line), " "))
		}
	}
	return r
}

func (r digResult) hasFlag(f string) bool {
	for _, x := range r.flags {
		if x == f {
			return true
		}
	}
	return false
}

func TestDig(t *testing.T) {
	dig := needDig(t)
	f := &fakeAnswerer{node: "node-a", answer: func(q gslb.Question, c gslb.Client) (gslb.Answer, error) {
		switch strings.ToLower(q.Name) {
		case "www." + zone:
			return gslb.Answer{Zone: zone, Authoritative: true, Answer: []gslb.Record{aRec(q.Name, "192.0.2.80")}}, nil
		case "app." + zone:
			// A geo answer whose decision depended on a /24.
			return gslb.Answer{Zone: zone, Authoritative: true, Scope: 24,
				Answer: []gslb.Record{aRec("app."+zone, "198.51.100.10")}}, nil
		}
		return gslb.Answer{Zone: zone, Authoritative: true, Authority: []gslb.Record{soaRec(zone)}}, gslb.ErrNoSuchName
	}}
	ts := startServer(t, f, Options{})

	for _, transport := range []string{"+notcp", "+tcp"} {
		t.Run("www "+transport, func(t *testing.T) {
			r := runDig(t, dig, ts.udp, transport, "www.gslb.test", "A")
			if r.status != "NOERROR" || !r.hasFlag("aa") || len(r.answers) != 1 ||
				r.answers[0] != "www.gslb.test. 30 IN A 192.0.2.80" {
				t.Fatalf("dig output:\n%s", r.raw)
			}
		})
	}
	t.Run("case preserved", func(t *testing.T) {
		r := runDig(t, dig, ts.udp, "WWW.Gslb.Test", "A")
		if r.status != "NOERROR" || !strings.Contains(r.raw, ";WWW.Gslb.Test.") {
			t.Fatalf("dig output:\n%s", r.raw)
		}
	})
	t.Run("NXDOMAIN", func(t *testing.T) {
		r := runDig(t, dig, ts.udp, "nope.gslb.test", "A")
		if r.status != "NXDOMAIN" || !r.hasFlag("aa") || !strings.Contains(r.raw, "IN\tSOA\tns1.gslb.test.") {
			t.Fatalf("dig output:\n%s", r.raw)
		}
	})
	t.Run("subnet scope", func(t *testing.T) {
		r := runDig(t, dig, ts.udp, "+subnet=81.2.69.160/27", "app.gslb.test", "A")
		if r.status != "NOERROR" || r.ecs != "81.2.69.160/27/24" || len(r.answers) != 1 {
			t.Fatalf("dig output:\n%s", r.raw)
		}
	})
	t.Run("subnet /0", func(t *testing.T) {
		r := runDig(t, dig, ts.udp, "+subnet=0", "app.gslb.test", "A")
		if r.status != "NOERROR" || !strings.HasSuffix(r.ecs, "/0/0") {
			t.Fatalf("dig output:\n%s", r.raw)
		}
		if c := f.lastCall(t).c; c.SourcePrefix != 0 || !c.ECS {
			t.Errorf("client = %+v", c)
		}
	})
	t.Run("CHAOS id.server", func(t *testing.T) {
		r := runDig(t, dig, ts.udp, "id.server", "CH", "TXT")
		if r.status != "NOERROR" || len(r.answers) != 1 || !strings.HasSuffix(r.answers[0], `CH TXT "node-a"`) {
			t.Fatalf("dig output:\n%s", r.raw)
		}
	})
	t.Run("BADVERS", func(t *testing.T) {
		r := runDig(t, dig, ts.udp, "+edns=1", "+noednsnegotiation", "www.gslb.test", "A")
		if r.status != "BADVERS" {
			t.Fatalf("dig output:\n%s", r.raw)
		}
	})
}

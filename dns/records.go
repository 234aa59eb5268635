package dns

import (
	"fmt"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/gslb"
)

// toRRs appends the wire form of recs to dst.
func toRRs(recs []gslb.Record, dst []mdns.RR) ([]mdns.RR, error) {
	for _, r := range recs {
		rr, err := toRR(r)
		if err != nil {
			return dst, err
		}
		dst = append(dst, rr)
	}
	return dst, nil
}

// toRR builds one class-IN resource record. A record whose data does not
// fit its type is an error (a bug in the Snapshot), never a malformed reply.
func toRR(r gslb.Record) (mdns.RR, error) {
	hdr := mdns.RR_Header{Name: r.Name, Rrtype: r.Type, Class: mdns.ClassINET, Ttl: r.TTL}
	d := r.Data
	switch r.Type {
	case gslb.TypeTXT, gslb.TypeCAA, gslb.TypeSOA:
		if d.Rare == nil {
			return nil, fmt.Errorf("dns: %s record %s without its data", mdns.TypeToString[r.Type], r.Name)
		}
	}
	switch r.Type {
	case gslb.TypeA:
		if !d.Addr.Is4() {
			return nil, fmt.Errorf("dns: A record %s with address %v", r.Name, d.Addr)
		}
		r := &aRR{ip: d.Addr.As4()}
		r.rr = mdns.A{Hdr: hdr, A: r.ip[:]}
		return &r.rr, nil
	case gslb.TypeAAAA:
		if !d.Addr.Is6() {
			return nil, fmt.Errorf("dns: AAAA record %s with address %v", r.Name, d.Addr)
		}
		r := &aaaaRR{ip: d.Addr.As16()}
		r.rr = mdns.AAAA{Hdr: hdr, AAAA: r.ip[:]}
		return &r.rr, nil
	case gslb.TypeCNAME:
		return &mdns.CNAME{Hdr: hdr, Target: d.Target}, nil
	case gslb.TypeNS:
		return &mdns.NS{Hdr: hdr, Ns: d.Target}, nil
	case gslb.TypeMX:
		return &mdns.MX{Hdr: hdr, Preference: d.Pref, Mx: d.Target}, nil
	case gslb.TypeTXT:
		return &mdns.TXT{Hdr: hdr, Txt: splitTXT(d.Text)}, nil
	case gslb.TypeSRV:
		return &mdns.SRV{Hdr: hdr, Priority: d.Priority, Weight: d.Weight, Port: d.Port, Target: d.Target}, nil
	case gslb.TypeCAA:
		return &mdns.CAA{Hdr: hdr, Flag: d.Flag, Tag: d.Tag, Value: d.Value}, nil
	case gslb.TypeSOA:
		return &mdns.SOA{Hdr: hdr, Ns: d.MName, Mbox: d.RName, Serial: d.Serial,
			Refresh: d.Refresh, Retry: d.Retry, Expire: d.Expire, Minttl: d.Minimum}, nil
	default:
		return nil, fmt.Errorf("dns: record %s of unsupported type %d", r.Name, r.Type)
	}
}

// aRR and aaaaRR keep an address record and its address bytes in one
// allocation instead of two: the record's IP slices the array beside it.
type aRR struct {
	rr mdns.A
	ip [4]byte
}

type aaaaRR struct {
	rr mdns.AAAA
	ip [16]byte
}

// maxCharString is the longest <character-string> (RFC 1035 §3.3).
const maxCharString = 255

// splitTXT cuts strings longer than a <character-string> into 255-byte
// pieces, as TXT data allows several; short strings are passed through
// without copying.
func splitTXT(in []string) []string {
	long := false
	for _, s := range in {
		if len(s) > maxCharString {
			long = true
			break
		}
	}
	if !long {
		return in
	}
	out := make([]string, 0, len(in)+1)
	for _, s := range in {
		for len(s) > maxCharString {
			out = append(out, s[:maxCharString])
			s = s[maxCharString:]
		}
		out = append(out, s)
	}
	return out
}

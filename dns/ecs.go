package dns

import (
	"errors"
	"net"
	"net/netip"

	mdns "github.com/miekg/dns"

	"github.com/gslbd/gslbd/gslb"
)

// ECS address families (RFC 7871 §6, IANA address family numbers).
const (
	familyIPv4 = 1
	familyIPv6 = 2
)

var (
	errECSTwice   = errors.New("dns: more than one client subnet option")
	errECSFamily  = errors.New("dns: client subnet of unknown family")
	errECSPrefix  = errors.New("dns: client subnet prefix longer than its family")
	errECSAddress = errors.New("dns: client subnet address has bits set past its prefix")
)

// clientSubnet is a validated EDNS Client Subnet option from a query.
type clientSubnet struct {
	family uint16
	prefix netip.Prefix // masked; for family 0 (dig's /0) 0.0.0.0/0
}

// findECS returns the query's client subnet, nil when it has none, or an
// error (FORMERR) when the option is malformed per RFC 7871 §7.1.1/§6.
// miekg already rejects, while unpacking, prefixes longer than the family
// and unknown families; those checks are repeated so the rule holds for
// any *mdns.Msg.
func findECS(opt *mdns.OPT) (*clientSubnet, error) {
	if opt == nil {
		return nil, nil
	}
	var found *mdns.EDNS0_SUBNET
	for _, o := range opt.Option {
		if e, ok := o.(*mdns.EDNS0_SUBNET); ok {
			if found != nil {
				return nil, errECSTwice
			}
			found = e
		}
	}
	if found == nil {
		return nil, nil
	}
	return parseECS(found)
}

func parseECS(e *mdns.EDNS0_SUBNET) (*clientSubnet, error) {
	bits := int(e.SourceNetmask)
	var addr netip.Addr
	switch e.Family {
	case 0:
		// dig sends family 0 with a /0 ("+subnet=0"): no address at all.
		if bits != 0 {
			return nil, errECSFamily
		}
		addr = netip.IPv4Unspecified()
	case familyIPv4:
		ip4 := e.Address.To4()
		if ip4 == nil {
			if len(e.Address) != 0 {
				return nil, errECSAddress
			}
			ip4 = net.IPv4zero.To4()
		}
		addr = netip.AddrFrom4([4]byte(ip4))
	case familyIPv6:
		var b [16]byte
		if len(e.Address) > 16 {
			return nil, errECSAddress
		}
		copy(b[:], e.Address)
		addr = netip.AddrFrom16(b)
	default:
		return nil, errECSFamily
	}
	if bits > addr.BitLen() {
		return nil, errECSPrefix
	}
	p := netip.PrefixFrom(addr, bits)
	if p.Masked() != p {
		return nil, errECSAddress
	}
	return &clientSubnet{family: e.Family, prefix: p}, nil
}

// client is who the answer is for. A /0 means the resolver will not tell
// where its client is (RFC 7871 §7.1.2): the address is the unspecified
// one, which no source locates, so the answer is the location-independent
// default and its scope is 0.
func (c *clientSubnet) client() gslb.Client {
	return gslb.Client{Addr: c.prefix.Addr(), SourcePrefix: c.prefix.Bits(), ECS: true}
}

// reply is the option echoed in the response: family, source prefix and
// address as sent, and the scope the answer depends on, never longer than
// the source prefix (RFC 7871 §7.2.1).
func (c *clientSubnet) reply(scope int) *mdns.EDNS0_SUBNET {
	scope = max(0, min(scope, c.prefix.Bits()))
	ip := net.IP(c.prefix.Addr().AsSlice())
	if c.family == familyIPv6 {
		ip = ip.To16()
	}
	return &mdns.EDNS0_SUBNET{
		Code:          mdns.EDNS0SUBNET,
		Family:        c.family,
		SourceNetmask: uint8(c.prefix.Bits()),
		SourceScope:   uint8(scope),
		Address:       ip,
	}
}

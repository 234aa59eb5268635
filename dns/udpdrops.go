package dns

import (
	"bufio"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// udpDrops exports gslbd_dns_udp_receive_drops_total: the datagrams the
// kernel dropped on our UDP sockets because their receive buffers were
// full, read from the drops column of /proc/net/udp and /proc/net/udp6.
// Those queries never reach us, so no other metric can count them. All
// sockets bound to one of our addresses count (several with SO_REUSEPORT).
// On systems without /proc the metric is absent.
type udpDrops struct {
	desc  *prometheus.Desc
	addrs func() []net.Addr
	files []string
}

func newUDPDrops(addrs func() []net.Addr) *udpDrops {
	return &udpDrops{
		desc: prometheus.NewDesc("gslbd_dns_udp_receive_drops_total",
			"UDP datagrams the kernel dropped on the DNS sockets (receive buffer full), from /proc/net/udp{,6}.", nil, nil),
		addrs: addrs,
		files: []string{"/proc/net/udp", "/proc/net/udp6"},
	}
}

func (u *udpDrops) Describe(ch chan<- *prometheus.Desc) { ch <- u.desc }

func (u *udpDrops) Collect(ch chan<- prometheus.Metric) {
	var ours []netip.AddrPort
	for _, a := range u.addrs() {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ours = append(ours, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	if len(ours) == 0 {
		return
	}
	var total uint64
	found := false
	for _, f := range u.files {
		n, ok := drops(f, ours)
		total += n
		found = found || ok
	}
	if found {
		ch <- prometheus.MustNewConstMetric(u.desc, prometheus.CounterValue, float64(total))
	}
}

// drops sums the drops column of the sockets in file bound to one of ours.
func drops(file string, ours []netip.AddrPort) (uint64, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var total uint64
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 13 {
			continue
		}
		local, ok := parseProcAddr(fields[1])
		if !ok || !containsAddrPort(ours, local) {
			continue
		}
		if n, err := strconv.ParseUint(fields[len(fields)-1], 10, 64); err == nil {
			total += n
		}
	}
	return total, true
}

func containsAddrPort(ours []netip.AddrPort, a netip.AddrPort) bool {
	for _, o := range ours {
		if o.Port() == a.Port() && (o.Addr() == a.Addr() || o.Addr().IsUnspecified() && a.Addr().IsUnspecified()) {
			return true
		}
	}
	return false
}

// parseProcAddr reads "0100007F:0035" (the address as the kernel stores
// it: 32-bit words in host byte order, little-endian on the platforms
// gslbd runs on) into 127.0.0.1:53.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	b, err := hex.DecodeString(hexIP)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	ip, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

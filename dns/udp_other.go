//go:build !linux

package dns

import "net"

// batchIO on systems without recvmmsg and SO_REUSEPORT (as used here):
// one datagram per read and write, one worker per address.
type batchIO struct {
	n    int
	dest [udpBatch]int
}

func (b *batchIO) init(*udpWorker) error { return nil }

func (b *batchIO) read(w *udpWorker) (int, error) {
	n, src, err := w.conn.ReadFromUDPAddrPort(w.in[0])
	if err != nil {
		return 0, err
	}
	b.n, w.src[0] = n, src
	return 1, nil
}

func (b *batchIO) length(int) int { return b.n }

// setLength stands in for a read that left n bytes in datagram 0.
func (b *batchIO) setLength(_, n int) { b.n = n }

func (b *batchIO) queue(w *udpWorker, k, i int, r []byte) {
	w.reply[k], b.dest[k] = r, i
}

func (b *batchIO) write(w *udpWorker, n int) error {
	var first error
	for k := range n {
		if _, err := w.conn.WriteToUDPAddrPort(w.reply[k], w.src[b.dest[k]]); err != nil && first == nil {
			first = err
		}
		w.reply[k] = nil
	}
	return first
}

func isTransient(error) bool { return false }

// reusePort is false: one worker per address.
const reusePort = false

func listenUDP(addr string) (*net.UDPConn, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

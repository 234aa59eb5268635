package dns

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"

	mdns "github.com/miekg/dns"
	"go.uber.org/zap"
)

// UDP is served by our own loop rather than miekg's: miekg's UDP server
// spends, per query, a goroutine, a SessionUDP, an address, out-of-band
// buffers and a read and a write syscall. Here each worker owns one
// socket (SO_REUSEPORT spreads the port's queries over the workers' sockets
// in the kernel), reads up to udpBatch queries with one recvmmsg, answers
// them in its own reused buffers, and writes the replies with one
// sendmmsg. TCP stays on miekg/dns.

// udpBatch is how many datagrams a worker reads and writes per syscall.
const udpBatch = 32

// udpWorker serves one socket. Everything it touches per query is its
// own, allocated once: packet buffers, the parsed query, the fallback
// writer and its metrics shard.
type udpWorker struct {
	h    *handler
	c    *shard
	log  *zap.Logger
	conn *net.UDPConn

	in    [udpBatch][]byte // read buffers, udpReadSize each
	out   [udpBatch][]byte // reply buffers
	reply [udpBatch][]byte // this batch's replies (into out, or grown)
	src   [udpBatch]netip.AddrPort
	q     wireQuery
	fw    fallbackWriter
	io    batchIO // the platform's batch syscalls
}

func newUDPWorker(h *handler, c *shard, log *zap.Logger, conn *net.UDPConn) (*udpWorker, error) {
	w := &udpWorker{h: h, c: c, log: log, conn: conn}
	outSize := max(int(h.udpSize), minUDPSize)
	for i := range w.in {
		w.in[i] = make([]byte, udpReadSize)
		w.out[i] = make([]byte, 0, outSize)
	}
	w.fw.local = conn.LocalAddr()
	if err := w.io.init(w); err != nil {
		return nil, err
	}
	return w, nil
}

// run serves until the socket's read deadline passes (stop) or the socket
// fails; it closes the socket when it returns. A batch read before stop is
// answered in full, so no query taken from the socket is lost.
func (w *udpWorker) run() error {
	defer w.conn.Close()
	for {
		n, err := w.io.read(w)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if isTransient(err) {
				continue
			}
			return err
		}
		start := time.Now()
		k, fast := 0, 0
		for i := range n {
			r, isFast := w.handle(i)
			if r == nil {
				continue
			}
			if isFast {
				fast++
			}
			w.io.queue(w, k, i, r)
			k++
		}
		if k > 0 {
			if err := w.io.write(w, k); err != nil {
				w.log.Debug("dns replies not written", zap.String("proto", protoUDP), zap.Error(err))
			}
		}
		if fast > 0 {
			// Fallbacks timed themselves in handler.write.
			w.c.observeN(time.Since(start), fast)
		}
	}
}

// handle answers packet i of the batch: the fast path when it can, else
// the full path. It returns the reply (nil: none) and whether the fast
// path wrote it. A panic is recovered here, answered SERVFAIL and counted.
func (w *udpWorker) handle(i int) (reply []byte, fast bool) {
	pkt := w.in[i][:w.io.length(i)]
	src := w.src[i]
	out := w.out[i][:0]
	defer func() {
		if p := recover(); p != nil {
			w.c.panics.Add(1)
			w.log.Error("dns fast path panic", zap.Any("panic", p), zap.Stack("stack"))
			reply, fast = w.servfail(pkt, src, out), false
		}
	}()
	if len(pkt) >= headerSize && binary.BigEndian.Uint16(pkt[2:])&headerQR != 0 {
		w.c.dropped[dropResponseIdx].Add(1)
		return nil, false
	}
	if w.q.parse(pkt) {
		switch n, err := w.h.fastAnswer(&w.q, src.Addr().Unmap(), out, w.c); err {
		case nil:
			return out[:n], true
		case errRateLimited:
			return nil, true
		}
	}
	w.fw.reset(src, out)
	w.h.serveWire(pkt, &w.fw)
	return w.fw.reply(), false
}

// servfail answers SERVFAIL after a panic outside the full path's own
// recovery; nothing when the packet does not even unpack.
func (w *udpWorker) servfail(pkt []byte, src netip.AddrPort, out []byte) []byte {
	req := new(mdns.Msg)
	if req.Unpack(pkt) != nil {
		return nil
	}
	w.fw.reset(src, out)
	w.h.writeAfterPanic(&w.fw, req, protoUDP, time.Now())
	return w.fw.reply()
}

// serveWire takes a packet through the steps of miekg's server
// (server.go serveDNS) with our accept and invalid funcs, then the
// handler: it is the full path for UDP packets the fast path declined.
func (h *handler) serveWire(m []byte, w mdns.ResponseWriter) {
	if len(m) < headerSize {
		invalidFunc(h.m, protoUDP)(m, mdns.ErrShortRead)
		return
	}
	dh := mdns.Header{
		Id:      binary.BigEndian.Uint16(m[0:]),
		Bits:    binary.BigEndian.Uint16(m[2:]),
		Qdcount: binary.BigEndian.Uint16(m[4:]),
		Ancount: binary.BigEndian.Uint16(m[6:]),
		Nscount: binary.BigEndian.Uint16(m[8:]),
		Arcount: binary.BigEndian.Uint16(m[10:]),
	}
	if acceptFunc(h.m)(dh) != mdns.MsgAccept {
		return
	}
	req := new(mdns.Msg)
	if err := req.Unpack(m); err != nil {
		invalidFunc(h.m, protoUDP)(m, err)
		req.SetRcodeFormatError(req)
		req.Zero = false
		req.Ns, req.Answer, req.Extra = nil, nil, nil
		_ = w.WriteMsg(req)
		return
	}
	h.ServeDNS(w, req)
}

// fallbackWriter is the mdns.ResponseWriter of a UDP worker's full path:
// it keeps the one reply in the worker's buffer for the batch write.
type fallbackWriter struct {
	local  net.Addr
	remote netip.AddrPort
	out    []byte
}

var _ mdns.ResponseWriter = (*fallbackWriter)(nil)

func (f *fallbackWriter) reset(remote netip.AddrPort, out []byte) {
	f.remote, f.out = remote, out[:0]
}

// reply is what the handler wrote, nil when it wrote nothing.
func (f *fallbackWriter) reply() []byte {
	if len(f.out) == 0 {
		return nil
	}
	return f.out
}

func (f *fallbackWriter) LocalAddr() net.Addr { return f.local }

func (f *fallbackWriter) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(f.remote) }

func (f *fallbackWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return err
}

// Write keeps b (the handler reuses its buffer after Write returns).
func (f *fallbackWriter) Write(b []byte) (int, error) {
	f.out = append(f.out[:0], b...)
	return len(b), nil
}

func (f *fallbackWriter) Close() error        { return nil }
func (f *fallbackWriter) TsigStatus() error   { return nil }
func (f *fallbackWriter) TsigTimersOnly(bool) {}
func (f *fallbackWriter) Hijack()             {}

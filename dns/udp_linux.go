//go:build linux

package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchIO reads and writes a worker's batches with recvmmsg and
// sendmmsg, called through the socket's RawConn so that Go's poller
// waits for readiness and deadlines still stop a blocked read. Every
// header, vector and address it hands the kernel is allocated once; the
// closures passed to RawConn are built once too, so a batch allocates
// nothing.
type batchIO struct {
	rc syscall.RawConn

	rhdr  [udpBatch]unix.Mmsghdr
	riov  [udpBatch]unix.Iovec
	rname [udpBatch]unix.RawSockaddrInet6 // large enough for IPv4 too

	whdr [udpBatch]unix.Mmsghdr
	wiov [udpBatch]unix.Iovec

	readFn, writeFn func(fd uintptr) bool
	nread           int
	rerr            error
	wpos, wn        int
	werr            error
}

func (b *batchIO) init(w *udpWorker) error {
	rc, err := w.conn.SyscallConn()
	if err != nil {
		return err
	}
	b.rc = rc
	for i := range b.rhdr {
		b.riov[i].Base = &w.in[i][0]
		b.rhdr[i].Hdr.Iov = &b.riov[i]
		b.rhdr[i].Hdr.SetIovlen(1)
		b.rhdr[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.rname[i]))
		b.whdr[i].Hdr.Iov = &b.wiov[i]
		b.whdr[i].Hdr.SetIovlen(1)
	}
	b.readFn = func(fd uintptr) bool { return b.recv(fd, w) }
	b.writeFn = b.send
	return nil
}

// read fills the worker's in and src with up to udpBatch datagrams,
// waiting for at least one.
func (b *batchIO) read(w *udpWorker) (int, error) {
	b.nread, b.rerr = 0, nil
	if err := b.rc.Read(b.readFn); err != nil {
		return 0, err
	}
	return b.nread, b.rerr
}

func (b *batchIO) recv(fd uintptr, w *udpWorker) bool {
	for i := range b.rhdr {
		b.riov[i].SetLen(udpReadSize)
		b.rhdr[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.rhdr[i].Hdr.Flags = 0
		b.rhdr[i].Len = 0
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rhdr[0])), udpBatch, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait until readable
		default:
			b.rerr = e
			return true
		}
		b.nread = int(n)
		for i := range b.nread {
			w.src[i] = sockaddrAddrPort(&b.rname[i])
		}
		return true
	}
}

// length is the size of datagram i of the last read.
func (b *batchIO) length(i int) int { return int(b.rhdr[i].Len) }

// setLength stands in for a read that left n bytes in datagram i.
func (b *batchIO) setLength(i, n int) { b.rhdr[i].Len = uint32(n) }

// queue makes reply slot k carry r to the sender of datagram i.
func (b *batchIO) queue(w *udpWorker, k, i int, r []byte) {
	h := &b.whdr[k]
	h.Hdr.Name = (*byte)(unsafe.Pointer(&b.rname[i]))
	h.Hdr.Namelen = b.rhdr[i].Hdr.Namelen
	b.wiov[k].Base = &r[0]
	b.wiov[k].SetLen(len(r))
	w.reply[k] = r // keeps a grown reply alive until it is sent
}

// write sends the first n queued replies. A reply the kernel refuses is
// skipped (its error returned) so that the others still go out.
func (b *batchIO) write(w *udpWorker, n int) error {
	b.wpos, b.wn, b.werr = 0, n, nil
	err := b.rc.Write(b.writeFn)
	for i := range n {
		w.reply[i] = nil
	}
	if err != nil {
		return err
	}
	return b.werr
}

func (b *batchIO) send(fd uintptr) bool {
	for b.wpos < b.wn {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.whdr[b.wpos])), uintptr(b.wn-b.wpos), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			b.wpos += int(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return false // wait until writable
		default:
			b.werr = e
			b.wpos++
		}
	}
	return true
}

// sockaddrAddrPort converts a kernel socket address (IPv4 or IPv6).
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), ntohs(sa.Port))
	}
	return netip.AddrPort{}
}

// ntohs reads a port the kernel stored in network byte order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// isTransient reports read errors worth retrying: the kernel was short
// of memory for a moment.
func isTransient(err error) bool {
	return errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ENOBUFS)
}

// listenUDP binds a UDP socket with SO_REUSEPORT, so that every worker
// of an address binds the same port and the kernel spreads queries over
// them.
func listenUDP(addr string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// reusePort is true: each worker binds its own socket to the port.
const reusePort = true

package connlimit

import (
	"errors"
	"net"
	"strings"
	"syscall"
)

var errConnAborted = syscall.ECONNABORTED

// localErrnos are the errors that say this process or host ran out of
// something, not that the peer misbehaved; each with its metric reason.
var localErrnos = []struct {
	errno  syscall.Errno
	reason string
}{
	{syscall.EMFILE, "emfile"},
	{syscall.ENFILE, "enfile"},
	{syscall.ENOBUFS, "enobufs"},
	{syscall.ENOMEM, "enomem"},
	{syscall.EADDRNOTAVAIL, "eaddrnotavail"},
}

// LocalResourceReason reports whether err is a local resource failure
// (EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL: out of descriptors,
// buffers, memory or ephemeral ports) and names it; "" otherwise. Such an
// error says nothing about the remote end.
func LocalResourceReason(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range localErrnos {
		if errors.Is(err, e.errno) {
			return e.reason
		}
	}
	// The resolver keeps only the text of the error that stopped a lookup
	// (a DNSError unwraps to context errors only), so a probe of a host
	// name that failed for want of a socket is recognised by that text.
	var de *net.DNSError
	if errors.As(err, &de) {
		for _, e := range localErrnos {
			if strings.Contains(de.Err, e.errno.Error()) {
				return e.reason
			}
		}
	}
	return ""
}

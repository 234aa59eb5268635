// Package dns is gslbd's wire side: the UDP and TCP listeners, packet
// checks, EDNS0 and EDNS Client Subnet (RFC 7871), the mapping of gslb
// answers and sentinel errors to DNS messages and rcodes, and truncation.
//
// It owns every github.com/miekg/dns type in the program: no exported name
// of this package mentions one, so a move to another DNS library touches
// this package only.
//
// Of gslbd's packages it imports gslb and the leaf connlimit (TCP
// connection caps) only; it must not import config, geo, health, cluster,
// dashboard or cmd.
//
// # Request path
//
// Every query takes one explicit path (handler.ServeDNS): drop responses
// (QR=1), check opcode, question count and EDNS0, find the client address
// (the ECS subnet, else the socket address), load the current Snapshot once,
// ask it for the answer, turn the answer or its sentinel error into a
// message in one place, truncate it to the client's UDP size and write it
// once. There is no plugin chain.
//
// UDP queries first meet a fast path (fast.go) that answers the common
// case (one IN question, at most an ECS and a COOKIE option,
// A/AAAA/CNAME/SOA data,
// a reply that fits) from the wire bytes, with the same Snapshot.Answer
// and byte for byte the reply ServeDNS would write; everything else, and
// write names, takes the full path. A differential fuzz test
// (FuzzFastPath) holds the two to the same bytes.
//
// # Anti-amplification
//
// Response rate limiting (rrl.go), DNS Cookies with the RFC 9018 server
// cookie (cookie.go) and NSID (RFC 5001) are part of the same path. The
// full path applies RRL at one point, in ServeDNS after the reply is
// built: UDP only, never to a client that returned a valid server cookie.
// The fast path applies the same RRL at the end of fastAnswer (fastLimit:
// same buckets, byte-identical slip reply, nothing sent on a drop), and
// checks, echoes or issues cookies (fast_cookie.go) with the same Cookies
// and clock; a malformed COOKIE option, a query the cookies.require
// policy refuses (BADCOOKIE) and NSID take the full path. The RRL and cookie
// cores work on wire data (netip.Addr, wire-form names, raw COOKIE option
// bytes) and do not allocate; protect.go is the glue around them.
//
// # Concurrency
//
// UDP is served by our own workers (udp.go): Options.UDPWorkers sockets
// per address bound with SO_REUSEPORT, each read and written by one
// goroutine in batches (recvmmsg/sendmmsg on Linux) with buffers it owns;
// there is no goroutine per packet. TCP is served by miekg/dns, each
// connection on its own goroutine. The handler holds no mutable state of
// its own: it reads an immutable Snapshot through Source.Load, so queries
// never wait for each other nor for the publisher that swaps Snapshots. Serve returns
// after its context is done and in-flight queries finished (bounded by
// Options.ShutdownTimeout); a UDP worker answers the batch it holds before
// it stops. Metrics are per-shard atomics summed at scrape time; nothing
// is logged per query at info level.
//
// The RRL table is the one piece of mutable state queries share: a
// fixed-size array of buckets, each set guarded by one of 1024 striped
// locks held for a few dozen nanoseconds; settings and cookie secrets are
// swapped whole through atomic pointers on reload.
package dns

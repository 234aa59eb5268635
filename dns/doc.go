// Package dns is gslbd's wire side: the UDP and TCP listeners, packet
// checks, EDNS0 and EDNS Client Subnet (RFC 7871), the mapping of gslb
// answers and sentinel errors to DNS messages and rcodes, and truncation.
//
// It owns every github.com/miekg/dns type in the program: no exported name
// of this package mentions one except NewHandler's mdns.Handler result, so
// a move to another DNS library touches this package only.
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
// # Concurrency
//
// Server runs one miekg server per bound socket; each query is handled on
// its own goroutine. The handler holds no mutable state: it reads an
// immutable Snapshot through Source.Load, so queries never wait for each
// other nor for the publisher that swaps Snapshots. Serve returns after its
// context is done and in-flight queries finished (bounded by
// Options.ShutdownTimeout). Metrics are safe for concurrent use; nothing
// is logged per query at info level.
package dns

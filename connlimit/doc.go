// Package connlimit caps the TCP connections a listener holds open, in
// total and per source address, and backs off when accept fails for want
// of file descriptors or buffers.
//
// Every TCP listener of gslbd (DNS, HTTP, gossip) goes through it, so that
// idle connections from anyone can never take the descriptors the health
// probes need: a node that cannot probe would see every backend as down.
// The caps are set well below RLIMIT_NOFILE by cmd/gslbd.
//
// It imports none of gslbd's packages; dns, cluster and cmd/gslbd use it.
//
// # Concurrency
//
// A Limiter is safe for concurrent use: Acquire and the release it returns
// take one short mutex. A Listener's Accept may be called from one
// goroutine at a time (as every server does); Close may be called from any.
package connlimit

// Package hooks delivers gslb.Change events to the failover hooks of the
// config: webhooks (an HTTP POST of the event as JSON, signed with
// HMAC-SHA256 when the hook has a secret) and commands (a program run
// without a shell, the event in GSLBD_* environment variables and as JSON
// on standard input).
//
// Delivery is at least once from the node that made the change: each
// attempt has the hook's timeout; a failure (a non-2xx status, a network
// error, a non-zero exit, a timeout) is retried after the hook's back-off,
// doubled per retry up to its maximum, until the retries are used up.
// Every attempt carries the same idempotency key (Change.ID), so a
// receiver can drop repeats. Events wait in a bounded in-memory queue per
// hook; a full queue drops the new event. Drops, failures and give-ups
// are logged and counted (gslbd_hooks_*), and events still queued when
// the process stops are lost: the queue is not persisted.
//
// Concurrency: Fire never blocks and may be called from any goroutine;
// Run owns one worker goroutine per hook, so the events of one hook are
// delivered in order, one at a time, and a slow hook never delays
// another.
//
// It imports config and gslb only (cmd/gslbd/arch_test.go).
package hooks

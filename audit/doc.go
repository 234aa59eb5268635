// Package audit keeps the append-only audit log: one JSON object (a
// gslb.Change) per line, written and fsynced before Write returns, so an
// admin action that was acknowledged is on disk. The file is rotated by
// size (path -> path.1 -> path.2 ..., the oldest beyond Keep removed);
// rotation never rewrites an entry. The last entries are kept in memory
// (seeded from the file at Open) for /api/v1/audit.
//
// Concurrency: a Log is safe for concurrent use; writes are serialised by
// a mutex (admin actions and write-primary changes are rare).
//
// It imports config and gslb only (cmd/gslbd/arch_test.go).
package audit

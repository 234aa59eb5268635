package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/gslb"
)

// keepRecent bounds the entries held in memory for Recent.
const keepRecent = 500

// maxLine bounds one entry read back at Open; longer lines are skipped.
const maxLine = 64 << 10

// Log is an open audit log.
type Log struct {
	mu     sync.Mutex
	cfg    config.AuditLog
	f      *os.File
	size   int64
	recent []gslb.Change
	// sync is f.Sync; tests count it.
	sync func(*os.File) error
}

// Open opens (or creates) the file for appending and reads its last
// entries back. The directory must exist.
func Open(cfg config.AuditLog) (*Log, error) {
	if cfg.Path == "" {
		return nil, errors.New("audit: no path")
	}
	l := &Log{cfg: cfg, sync: (*os.File).Sync}
	l.recent = readTail(cfg.Path)
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// readTail returns the last keepRecent entries of the file at path
// (none if it cannot be read: the log is still appended to).
func readTail(path string) []gslb.Change {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []gslb.Change
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// An over-long line: skip the rest of it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			continue
		}
		var c gslb.Change
		if len(line) > 0 && len(line) <= maxLine && json.Unmarshal(line, &c) == nil {
			out = append(out, c)
			if len(out) > 2*keepRecent {
				out = slices.Clone(out[len(out)-keepRecent:])
			}
		}
		if err != nil {
			break
		}
	}
	if len(out) > keepRecent {
		out = slices.Clone(out[len(out)-keepRecent:])
	}
	return out
}

// Write appends c (with its ID set) as one line and fsyncs the file,
// rotating first when the line would make the file larger than
// MaxBytes. An error means the entry may not be on disk; the caller logs
// it (the action itself is not undone).
func (l *Log) Write(c gslb.Change) error {
	c = c.WithID()
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		if err := l.open(); err != nil { // a failed rotation left it closed
			return err
		}
	}
	if l.size > 0 && l.size+int64(len(b)) > l.cfg.MaxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err == nil {
		err = l.sync(l.f)
	}
	if err != nil {
		return fmt.Errorf("audit: %s: %w", l.cfg.Path, err)
	}
	l.recent = append(l.recent, c)
	if len(l.recent) > 2*keepRecent {
		l.recent = slices.Clone(l.recent[len(l.recent)-keepRecent:])
	}
	return nil
}

// rotate shifts path.(k-1) to path.k down to path -> path.1, dropping
// what falls beyond Keep, and opens a fresh file.
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("audit: close for rotation: %w", err)
	}
	l.f = nil
	name := func(i int) string { return l.cfg.Path + "." + strconv.Itoa(i) }
	if l.cfg.Keep == 0 {
		if err := os.Remove(l.cfg.Path); err != nil {
			return fmt.Errorf("audit: rotate: %w", err)
		}
		return l.open()
	}
	if err := os.Remove(name(l.cfg.Keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	for i := l.cfg.Keep - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	}
	if err := os.Rename(l.cfg.Path, name(1)); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	return l.open()
}

// Recent returns up to n of the newest entries, newest last.
func (l *Log) Recent(n int) []gslb.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	n = max(min(n, len(l.recent), keepRecent), 0)
	return slices.Clone(l.recent[len(l.recent)-n:])
}

// Close closes the file; later Writes reopen it.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

var _ io.Closer = (*Log)(nil)

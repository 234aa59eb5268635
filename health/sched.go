package health

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// maxWorkers bounds the goroutines that run probes, however many targets
// there are: probes are short and each has its own timeout, so a few
// workers keep up with thousands of targets, and a hanging probe holds
// one worker until its timeout rather than a goroutine forever.
const maxWorkers = 64

// jobKind says which of a target's probes a job runs.
type jobKind uint8

const (
	liveJob jobKind = iota
	lagJob
)

// job is one target's liveness or lag probe in the timer heap. While it
// runs it is out of the heap, so a target never has two probes of the
// same kind in flight.
type job struct {
	t    *target
	kind jobKind
	due  time.Time
	idx  int // heap index; -1 while not queued
	busy bool
}

// jobHeap orders jobs by due time (container/heap).
type jobHeap []*job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h jobHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *jobHeap) Push(x any) {
	j := x.(*job)
	j.idx = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.idx = -1
	return j
}

// scheduler is one timer heap for every probe of a Manager: a single
// goroutine sleeps until the earliest due job and hands due jobs to a
// pool of at most maxWorkers goroutines, started as the load needs them.
// A target costs a heap entry per probe kind, not a goroutine or a timer.
type scheduler struct {
	clock   Clock
	workers int // upper bound of the pool

	mu   sync.Mutex
	h    jobHeap
	wake chan struct{}
	// asleep is set while run waits for its timer (due at sleepUntil;
	// zero: no timer) and nothing else: only a job due before then needs
	// a poke. A job queued while run is awake is seen at its next look
	// at the heap, so the usual requeue, due an interval later than jobs
	// already queued, wakes nobody: one goroutine wake-up less per probe.
	asleep     bool
	sleepUntil time.Time
}

func newScheduler(c Clock, workers int) *scheduler {
	return &scheduler{clock: c, workers: workers, wake: make(chan struct{}, 1)}
}

// add queues j to run after d. The caller holds no scheduler lock.
func (s *scheduler) add(j *job, d time.Duration) {
	s.mu.Lock()
	j.due = s.clock.Now().Add(d)
	heap.Push(&s.h, j)
	wake := s.needsPoke(j.due)
	s.mu.Unlock()
	if wake {
		s.poke()
	}
}

// needsPoke reports whether run must be woken for a job due at due, and
// then counts it as awake. The caller holds s.mu.
func (s *scheduler) needsPoke(due time.Time) bool {
	if !s.asleep || (!s.sleepUntil.IsZero() && !due.Before(s.sleepUntil)) {
		return false
	}
	s.asleep = false
	return true
}

// remove takes j out of the heap and reports whether it is running now.
func (s *scheduler) remove(j *job) (busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.idx >= 0 {
		heap.Remove(&s.h, j.idx)
	}
	return j.busy
}

// done marks j finished; when requeue is set it is queued again after d.
// It reports whether the job stays scheduled.
func (s *scheduler) done(j *job, requeue func() bool, d time.Duration) bool {
	s.mu.Lock()
	j.busy = false
	again := requeue()
	wake := false
	if again {
		j.due = s.clock.Now().Add(d)
		heap.Push(&s.h, j)
		wake = s.needsPoke(j.due)
	}
	s.mu.Unlock()
	if wake {
		s.poke()
	}
	return again
}

func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// clear empties the heap (Run is ending).
func (s *scheduler) clear() {
	s.mu.Lock()
	for _, j := range s.h {
		j.idx = -1
	}
	s.h = nil
	s.mu.Unlock()
}

// run dispatches due jobs to run(j) on the worker pool until ctx is done,
// then waits for every worker to return.
func (s *scheduler) run(ctx context.Context, do func(*job)) {
	work := make(chan *job)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(work)
	n := 0
	worker := func(j *job) {
		defer wg.Done()
		for ; j != nil; j = <-work {
			do(j)
		}
	}
	timer := s.clock.NewTimer(time.Hour)
	defer timer.Stop()
	var armed time.Time // due time the timer is set for; zero when idle
	var ready []*job
	for {
		s.mu.Lock()
		s.asleep = false
		now := s.clock.Now()
		ready = ready[:0]
		for len(s.h) > 0 && !s.h[0].due.After(now) {
			j := heap.Pop(&s.h).(*job)
			j.busy = true
			ready = append(ready, j)
		}
		var next time.Time
		if len(s.h) > 0 {
			next = s.h[0].due
		}
		if len(ready) == 0 {
			s.asleep, s.sleepUntil = true, next
		}
		s.mu.Unlock()
		for _, j := range ready {
			select {
			case work <- j:
				continue
			default:
			}
			if n < s.workers {
				n++
				wg.Add(1)
				go worker(j)
				continue
			}
			select {
			case work <- j:
			case <-ctx.Done():
				return
			}
		}
		if len(ready) > 0 {
			continue // dispatching took time: look at the heap again
		}
		if !next.Equal(armed) {
			if next.IsZero() {
				timer.Stop()
			} else {
				timer.Reset(next.Sub(now))
			}
			armed = next
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
			armed = time.Time{}
		case <-s.wake:
		}
	}
}

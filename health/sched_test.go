package health

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a manual clock: its timers fire only when Advance passes
// their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	ch   chan time.Time
	at   time.Time
	live bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d), live: true}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.live && !t.at.After(c.now) {
			t.live = false
			select {
			case t.ch <- c.now:
			default:
			}
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	t.live = false
	return was
}
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	select {
	case <-t.ch:
	default:
	}
	t.at, t.live = t.c.now.Add(d), true
	return was
}

// TestSchedulerFakeClock drives the timer heap with an injected clock:
// jobs run in due order, only when due, each once per due time, and
// never on more workers than the bound.
func TestSchedulerFakeClock(t *testing.T) {
	for _, workers := range []int32{1, 4} {
		t.Run(fmt.Sprint(workers, "workers"), func(t *testing.T) { testScheduler(t, workers) })
	}
}

func testScheduler(t *testing.T, workers int32) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	s := newScheduler(clk, int(workers))
	const n = 200
	jobs := make([]*job, n)
	for i := range jobs {
		jobs[i] = &job{idx: -1}
		// Due at 1s..n s, added out of order.
		s.add(jobs[i], time.Duration((i*7)%n+1)*time.Second)
	}
	var mu sync.Mutex
	var ran []time.Time
	var now, most atomic.Int32
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx, func(j *job) {
			c := now.Add(1)
			defer now.Add(-1)
			for {
				m := most.Load()
				if c <= m || most.CompareAndSwap(m, c) {
					break
				}
			}
			mu.Lock()
			ran = append(ran, j.due)
			mu.Unlock()
			<-release
			s.done(j, func() bool { return false }, 0)
		})
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ran)
	}
	// Nothing is due before the first second.
	clk.Advance(999 * time.Millisecond)
	time.Sleep(20 * time.Millisecond) // a wrong early run would show here
	if c := count(); c != 0 {
		t.Fatalf("%d jobs ran before any was due", c)
	}
	// All n become due; workers block until released, so at most
	// `workers` run at once.
	clk.Advance(time.Duration(n) * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for count() < int(workers) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for count() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if c := count(); c != n {
		t.Fatalf("%d of %d jobs ran", c, n)
	}
	if m := most.Load(); m > workers || m < 1 {
		t.Fatalf("%d jobs ran at once, want 1..%d", m, workers)
	}
	// One worker runs jobs in due order: the heap hands out the
	// earliest first.
	for i := 1; i < len(ran) && workers == 1; i++ {
		if ran[i].Before(ran[i-1]) {
			t.Fatalf("job due %v ran after one due %v", ran[i], ran[i-1])
		}
	}
}

// TestSchedulerRequeue: a job requeued by done runs again only when its
// next due time arrives on the injected clock.
func TestSchedulerRequeue(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	s := newScheduler(clk, 2)
	j := &job{idx: -1}
	s.add(j, time.Second)
	runs := make(chan time.Time, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx, func(j *job) {
			runs <- clk.Now()
			s.done(j, func() bool { return true }, 5*time.Second)
		})
	}()
	defer func() {
		cancel()
		<-done
	}()
	next := func(what string) time.Time {
		t.Helper()
		select {
		case at := <-runs:
			return at
		case <-time.After(10 * time.Second):
			t.Fatalf("no run: %s", what)
		}
		return time.Time{}
	}
	clk.Advance(time.Second)
	first := next("first")
	// Advance in small steps until just before the next due time: no run.
	for range 4 {
		clk.Advance(time.Second)
	}
	clk.Advance(999 * time.Millisecond)
	select {
	case at := <-runs:
		t.Fatalf("ran early at %v (first at %v)", at, first)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Millisecond)
	if second := next("second"); second.Sub(first) != 5*time.Second {
		t.Fatalf("second run %v after the first, want 5s", second.Sub(first))
	}
}

// TestSchedulerWakesForEarlierJob: while run sleeps until a far job, a
// job queued to be due sooner is run at its own time, not the far one's.
func TestSchedulerWakesForEarlierJob(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	s := newScheduler(clk, 2)
	s.add(&job{idx: -1}, time.Hour)
	runs := make(chan time.Time, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx, func(j *job) { runs <- clk.Now() })
	}()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		asleep := s.asleep
		s.mu.Unlock()
		if asleep {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("run never went to sleep")
		}
		time.Sleep(time.Millisecond)
	}
	s.add(&job{idx: -1}, time.Second)
	// The fake timer fires only if run re-armed it for the new job:
	// retry the advance until run has looked at the heap again.
	for len(runs) == 0 && time.Now().Before(deadline) {
		clk.Advance(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case at := <-runs:
		if at.Sub(time.Unix(1000, 0)) >= time.Hour {
			t.Fatalf("the 1s job ran only at %v", at)
		}
	default:
		t.Fatal("the job due sooner never ran")
	}
}

// TestSchedulerPokes: run is woken only for a job due before the time it
// sleeps until (or when it sleeps without a timer), and once.
func TestSchedulerPokes(t *testing.T) {
	base := time.Unix(1000, 0)
	s := newScheduler(&fakeClock{now: base}, 1)
	if s.needsPoke(base) {
		t.Error("poked while run is awake")
	}
	s.asleep, s.sleepUntil = true, base.Add(10*time.Second)
	if s.needsPoke(base.Add(10 * time.Second)) {
		t.Error("poked for a job due when the timer fires anyway")
	}
	if !s.needsPoke(base.Add(time.Second)) {
		t.Error("no poke for a job due before the timer")
	}
	if s.needsPoke(base) {
		t.Error("poked twice before run woke")
	}
	s.asleep, s.sleepUntil = true, time.Time{}
	if !s.needsPoke(base.Add(time.Hour)) {
		t.Error("no poke while run sleeps without a timer")
	}
}

// TestSchedulerSlowJobHoldsNoOther: while a job runs long, the next job
// still runs, on another worker, without waiting for the slow one.
func TestSchedulerSlowJobHoldsNoOther(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	s := newScheduler(clk, 2)
	slow, next := &job{idx: -1}, &job{idx: -1}
	s.add(slow, time.Second)
	s.add(next, 2*time.Second)
	started := make(chan *job, 2)
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx, func(j *job) {
			started <- j
			if j == slow {
				<-release
			}
		})
	}()
	defer func() {
		close(release)
		cancel()
		<-done
	}()
	wait := func(want *job, what string) {
		t.Helper()
		select {
		case j := <-started:
			if j != want {
				t.Fatalf("%s: another job ran", what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never ran", what)
		}
	}
	clk.Advance(time.Second)
	wait(slow, "the slow job")
	// The scheduler re-arms its timer for the next job after handing out
	// the slow one; advance until it has (the fake timer fires only when
	// armed), at most for the test's bound.
	deadline := time.Now().Add(10 * time.Second)
	for len(started) == 0 && time.Now().Before(deadline) {
		clk.Advance(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	wait(next, "the job due while the slow one runs")
}

// TestStartOffsetBounded: first probes are staggered within the interval
// but never later than maxStartSpread, so a node with a long interval
// finishes its first round (and starts answering) soon after it starts.
func TestStartOffsetBounded(t *testing.T) {
	for _, d := range []time.Duration{0, 200 * time.Millisecond, 5 * time.Second, time.Minute} {
		limit := min(d, maxStartSpread)
		for range 1000 {
			if o := startOffset(d); o < 0 || (limit > 0 && o >= limit) || (limit == 0 && o != 0) {
				t.Fatalf("startOffset(%v) = %v, want in [0, %v)", d, o, limit)
			}
		}
	}
}

package transform

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bookcovers/image-worker/cover"
)

// schedIdleAllowed tries SCHED_IDLE on a thread of its own, which then
// ends (a goroutine that exits locked to its thread takes the thread along).
func schedIdleAllowed() bool {
	ok := make(chan bool)
	go func() {
		runtime.LockOSThread()
		ok <- lowerWorker(syscall.Gettid()) == nil && func() bool {
			_, _, policy, read := threadNice("self", strconv.Itoa(syscall.Gettid()))
			return read && policy == schedIdle
		}()
	}()
	return <-ok
}

// threadNice reads a thread's name, nice value and scheduling policy from
// /proc/<pid>/task/<tid>; ok is false when the thread is gone.
func threadNice(pid, tid string) (name string, nice, policy int, ok bool) {
	dir := "/proc/" + pid + "/task/" + tid
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil {
		return "", 0, 0, false
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return "", 0, 0, false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	n, err := strconv.Atoi(f[16])  // field 19 of stat; f starts at field 3
	p, err2 := strconv.Atoi(f[38]) // field 41
	if err != nil || err2 != nil {
		return "", 0, 0, false
	}
	return strings.TrimSpace(string(comm)), n, p, true
}

// TestRendersRunAtLowPriority: every thread of a render worker, libvips'
// pool and the AVIF encoder's per-encode threads included, runs in
// SCHED_IDLE (or at renderNice where that is refused), while the serving
// process keeps the normal priority.
func TestRendersRunAtLowPriority(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc/self/task on this system")
	}
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent = 1 })
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	for _, f := range formats {
		render(t, r, src, Request{Width: 320, Format: f})
	}
	pids := r.WorkerPIDs()
	if len(pids) != 1 {
		t.Fatalf("WorkerPIDs() = %v after renders with MaxConcurrent 1; want one worker", pids)
	}
	pid := strconv.Itoa(pids[0])
	idle := schedIdleAllowed()
	lowered := func(nice, policy int) bool {
		if idle {
			return policy == schedIdle
		}
		return nice == renderNice
	}

	// Sample the worker's threads while it encodes AVIF: the encoder
	// starts its threads per encode.
	names := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 6 {
			render(t, r, src, Request{Width: 640, Format: cover.AVIF})
		}
	}()
	for sampling := true; sampling; {
		select {
		case <-done:
			sampling = false
		default:
		}
		tasks, err := os.ReadDir("/proc/" + pid + "/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			name, nice, policy, ok := threadNice(pid, task.Name())
			if !ok {
				continue // ended meanwhile
			}
			names[name]++
			if !lowered(nice, policy) {
				t.Fatalf("render worker thread %s (%s) has policy %d and nice %d, want SCHED_IDLE (%d) or nice %d", task.Name(), name, policy, nice, schedIdle, renderNice)
			}
		}
		time.Sleep(time.Millisecond)
	}
	if names["libvips worker"] == 0 {
		t.Errorf("no libvips worker thread seen in the render worker (threads seen: %v)", names)
	}
	if names["aom enc worker"] == 0 {
		t.Errorf("no AVIF encoder thread seen during six AVIF encodes (threads seen: %v)", names)
	}
	if adj, err := os.ReadFile("/proc/" + pid + "/oom_score_adj"); err != nil || strings.TrimSpace(string(adj)) != "1000" {
		t.Errorf("render worker oom_score_adj = %q (%v); want 1000, so the OOM killer takes a worker first", adj, err)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, nice, policy, ok := threadNice("self", strconv.Itoa(syscall.Gettid())); !ok || nice != 0 || policy != 0 {
		t.Errorf("the test goroutine's own thread has nice %d, policy %d (read %v), want 0 and 0", nice, policy, ok)
	}
}

func TestSaturatedFollowsTheQueue(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	r := newTestRenderer(t, func(c *Config) { c.MaxConcurrent, c.QueueSize = 1, 1 })
	r.beforeWork = func() { started <- struct{}{}; <-release }
	if err := r.Saturated(0); err != nil {
		t.Fatalf("idle renderer: Saturated(0) = %v", err)
	}
	if err := r.Saturated(2); !errors.Is(err, ErrOverloaded) {
		t.Errorf("idle renderer, queue of 1 and 1 slot: Saturated(2) = %v, want ErrOverloaded", err)
	}
	src := testdata(t, "photo-1600x2400-baseline.jpg")
	done := make(chan error, 2)
	for range 2 {
		go func() { _, err := r.Render(t.Context(), src, Request{Width: 96, Format: cover.WebP}); done <- err }()
	}
	<-started // one renders, the other waits in the queue
	deadline := time.Now().Add(5 * time.Second)
	for r.gate.queueDepth() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := r.Saturated(0); !errors.Is(err, ErrOverloaded) {
		t.Errorf("one running, one waiting, queue of 1: Saturated = %v, want ErrOverloaded", err)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if err := r.Saturated(0); err != nil {
		t.Errorf("after the renders: Saturated = %v, want nil", err)
	}
}

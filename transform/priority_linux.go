//go:build linux

package transform

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Renders run at a lower CPU priority than request handling: every thread
// of a render worker process runs in SCHED_IDLE (nice renderNice where
// that policy is refused), set at start-up; threads started later (Go's,
// libvips' pool, the AVIF encoder's per-encode threads) inherit it, and a
// scan after each operation catches any thread that raced the start-up.
// Under CPU contention, cache hits, the 503s of a full queue and the object
// store go first; on an idle machine renders still use every CPU. All the
// threads of one render share one policy, so none of them waits on a
// sibling that the scheduler ranks lower (with libvips' threads alone in
// SCHED_IDLE, the AVIF encoder's threads, started from them, were idle
// while the thread that called the encoder was not). Measured on 2 CPUs:
// cache-hit throughput during a render overload went from 0.45 of the idle
// rate (same priority) to about 0.7 (nice 10) and 0.75-0.8 (libvips' pool
// in SCHED_IDLE); see docs/benchmarks.md.
const renderNice = 10

// threadLowerer lowers the threads of a render worker process and
// remembers which it already lowered. ServeWorker owns the one of its
// process.
type threadLowerer struct {
	mu       sync.Mutex
	seen     map[int]bool
	lastScan atomic.Int64 // unix nanoseconds
	scanOff  atomic.Bool  // no /proc here, or the scheduler calls were refused
}

// lowerProcess puts every thread of this process (a render worker) in
// SCHED_IDLE or at renderNice (threads created afterwards inherit it) and
// makes it the first process the kernel's OOM killer picks: under memory
// pressure a worker dies (and costs one render) before the serving process
// does.
func (l *threadLowerer) lowerProcess() {
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	if _, err := os.ReadDir("/proc/self/task"); err != nil {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, 0, renderNice)
		return
	}
	l.lastScan.Store(0)
	l.lowerNew()
}

// lowerNew lowers every thread of this process not lowered yet. A worker
// calls it at start-up and after each operation; it reads /proc/self/task
// at most every 250 ms.
func (l *threadLowerer) lowerNew() {
	now := time.Now().UnixNano()
	last := l.lastScan.Load()
	if l.scanOff.Load() || now-last < int64(250*time.Millisecond) || !l.lastScan.CompareAndSwap(last, now) {
		return
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		l.scanOff.Store(true)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[int]bool{}
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil || l.seen[tid] {
			continue
		}
		if err := lowerWorker(tid); errors.Is(err, syscall.ESRCH) {
			continue // the thread ended meanwhile
		} else if err != nil {
			l.scanOff.Store(true)
			return
		}
		l.seen[tid] = true
	}
}

// schedIdle is Linux's SCHED_IDLE policy.
const schedIdle = 5

// lowerWorker puts a thread in SCHED_IDLE: it runs when no ordinary thread
// wants the CPU, and a waking request handler preempts it at once (with a
// nice value alone the kernel's EEVDF scheduler lets the running render
// finish its slice first). The whole worker process may wait: it holds no
// lock and no P that the serving process needs. Where SCHED_IDLE is
// refused, the nice value is the fallback.
func lowerWorker(tid int) error {
	niceErr := syscall.Setpriority(syscall.PRIO_PROCESS, tid, renderNice)
	var param struct{ priority int32 }
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param))); errno == 0 {
		return nil
	}
	return niceErr
}

//go:build linux

package transform

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Renders run at a lower CPU priority than request handling: a render
// worker process runs at nice renderNice (every thread, set at start-up;
// threads started later inherit it), and libvips' own worker threads (where
// most of the pixel work happens) in SCHED_IDLE. Under CPU contention, cache
// hits, the 503s of a full queue and the object store client go first; on
// an idle machine renders still use every CPU. Measured on 2 CPUs: cache-hit
// throughput during a render overload went from 0.45 of the idle rate
// (same priority) to about 0.7 (nice 10) and 0.75-0.8 (workers in
// SCHED_IDLE); see docs/benchmarks.md.
const renderNice = 10

// libvipsWorkerName is the name (comm) libvips gives its pool threads.
const libvipsWorkerName = "libvips worker"

// workerThreads remembers which libvips pool threads were already lowered.
var workerThreads struct {
	mu       sync.Mutex
	seen     map[int]bool
	lastScan atomic.Int64 // unix nanoseconds
	scanOff  atomic.Bool  // no /proc here, or the scheduler call was refused
}

// lowerProcess puts every thread of this process (a render worker) at
// renderNice (threads created afterwards inherit the value) and makes it
// the first process the kernel's OOM killer picks: under memory pressure a
// worker dies (and costs one render) before the serving process does.
func lowerProcess() {
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, 0, renderNice)
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, renderNice)
		}
	}
}

// lowerWorkers puts libvips' pool threads in SCHED_IDLE. A worker calls it
// after each operation; it reads /proc/self/task at most every 250 ms.
func lowerWorkers() {
	now := time.Now().UnixNano()
	last := workerThreads.lastScan.Load()
	if workerThreads.scanOff.Load() || now-last < int64(250*time.Millisecond) || !workerThreads.lastScan.CompareAndSwap(last, now) {
		return
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		workerThreads.scanOff.Store(true)
		return
	}
	workerThreads.mu.Lock()
	defer workerThreads.mu.Unlock()
	if workerThreads.seen == nil {
		workerThreads.seen = map[int]bool{}
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil || workerThreads.seen[tid] {
			continue
		}
		// A new thread names itself after it starts: look again next
		// time at any thread that is not (yet) a libvips worker.
		comm, err := os.ReadFile("/proc/self/task/" + t.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != libvipsWorkerName {
			continue
		}
		if err := lowerWorker(tid); err != nil {
			workerThreads.scanOff.Store(true)
			return
		}
		workerThreads.seen[tid] = true
	}
}

// schedIdle is Linux's SCHED_IDLE policy.
const schedIdle = 5

// lowerWorker puts a libvips worker thread in SCHED_IDLE: it runs when no
// ordinary thread of the process wants the CPU, and a waking request
// handler preempts it at once (with a nice value alone the kernel's EEVDF
// scheduler lets the running render finish its slice first). Worker threads
// run only C code, so an idle-priority worker never holds up the Go
// scheduler. Where SCHED_IDLE is refused, the nice value is the fallback.
func lowerWorker(tid int) error {
	var param struct{ priority int32 }
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param))); errno == 0 {
		return nil
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, renderNice)
}

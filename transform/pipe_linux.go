//go:build linux

package transform

import (
	"os"
	"syscall"
)

// pipeSize is what widenPipe asks for: 1 MiB, Linux's default ceiling for
// unprivileged processes (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// fSetPipeSz is Linux's F_SETPIPE_SZ fcntl.
const fSetPipeSz = 1031

// widenPipe raises a pipe's buffer from 64 KiB so that an original or an
// output crosses in one write; where the kernel refuses, the pipe stays as
// it was (only slower).
func widenPipe(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, pipeSize)
	})
}

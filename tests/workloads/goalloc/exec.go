// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause

// With --exec-from-thread, goalloc execs itself, without arguments, from
// a thread other than the leader, as a server that re-execs itself for
// an upgrade (syscall.Exec) may: the new image does the work. With a
// path after it, it execs that program instead.

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

const execFlag = "--exec-from-thread"

// The main goroutine keeps the leader thread, so that no other runs there.
func init() {
	if len(os.Args) > 1 && os.Args[1] == execFlag {
		runtime.LockOSThread()
	}
}

func execFromThread() {
	failed := make(chan error)
	go func() {
		runtime.LockOSThread()
		if syscall.Gettid() == syscall.Getpid() {
			failed <- errors.New("on the leader thread")
			return
		}
		exe, err := os.Executable()
		if len(os.Args) > 2 {
			exe = os.Args[2]
		}
		if err == nil {
			err = syscall.Exec(exe, []string{exe}, os.Environ())
		}
		failed <- err
	}()
	fmt.Fprintln(os.Stderr, "goalloc: exec from a thread:", <-failed)
	os.Exit(1)
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause

// Go heap allocations with exactly known escapes, for memlens allocs:
// escapes() makes 1000 slices of 640 bytes that escape to the heap (kept
// in a global), stays() makes 1000 that do not (the compiler puts them on
// the stack: go build -gcflags=-m says so), and deep() allocates 640
// bytes at each of 2000 levels of recursion on a fresh goroutine, whose
// stack grows (is copied) on the way down.
//
// With --wait it prints "ready", does the work on a line of stdin,
// prints "done" and exits on the next line (--exec-from-thread: exec.go).
package main

import (
	"bufio"
	"fmt"
	"os"
)

const (
	calls = 1000
	size  = 640
	depth = 2000
)

var kept [][]byte
var deepKept [][]byte

//go:noinline
func escapes() {
	for i := range kept {
		kept[i] = make([]byte, size)
	}
}

//go:noinline
func stays() int {
	total := 0
	for i := 0; i < calls; i++ {
		buf := make([]byte, size)
		buf[i%size] = byte(i)
		total += int(buf[(i*7)%size])
	}
	return total
}

//go:noinline
func deep(level int) {
	if level == 0 {
		return
	}
	deepKept[level-1] = make([]byte, size)
	deep(level - 1)
}

func work() {
	kept = make([][]byte, calls)
	deepKept = make([][]byte, depth)
	escapes()
	fmt.Println("stays:", stays())
	finished := make(chan bool)
	go func() {
		deep(depth)
		finished <- true
	}()
	<-finished
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == execFlag {
		execFromThread()
	}
	in := bufio.NewScanner(os.Stdin)
	wait := len(os.Args) > 1 && os.Args[1] == "--wait"
	if wait {
		fmt.Println("ready")
		in.Scan()
	}
	work()
	if wait {
		fmt.Println("done")
		in.Scan()
	}
}

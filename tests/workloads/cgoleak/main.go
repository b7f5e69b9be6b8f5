// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause

// A Go program whose C code leaks, for tests/e2e-sampling-go.sh: Go's
// goCaller calls C's cleak 5 times, which mallocs 1000 bytes each time
// and keeps nothing: 5 x 1000 bytes. C code called from Go runs on the
// thread's stack, and its frame pointer leads back down into the
// goroutine's stack, in Go's heap: a frame-pointer walk must follow it
// there to name goCaller and main.
package main

/*
#include <stdlib.h>
__attribute__((noinline)) void *cleak(int n) { return malloc(n); }
*/
import "C"

//go:noinline
func goCaller() {
	for i := 0; i < 5; i++ {
		C.cleak(1000)
	}
}

func main() {
	goCaller()
}

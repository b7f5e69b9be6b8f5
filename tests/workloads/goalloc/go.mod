module memlens.test/goalloc

go 1.19

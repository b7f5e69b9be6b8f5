module memlens.test/cgoleak

go 1.19

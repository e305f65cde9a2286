//go:build wasip1

package main

// Resource subcommands (memory, file descriptors):
//
//	memgrow MIB      allocate MIB MiB in 1 MiB blocks, touching every
//	                 page; print "memgrow: ok MIB", then hold (read stdin
//	                 to EOF) and exit 0. Growth the host refuses crashes
//	                 the Go runtime ("out of memory", exit 2).
//	memhog           allocate and touch 1 MiB blocks forever, printing
//	                 "memhog: N" every 16 MiB
//	fdhoard DIR N    open DIR/fdhoard (created) up to N times (0: until an
//	                 error); print "fdhoard: opened K" and the error as
//	                 "fdhoard: errno NAME" (or "fdhoard: ok"), then hold

import (
	"fmt"
	"io"
	"os"
	"path"
)

var hoard [][]byte

func touch(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
}

func init() {
	register("memgrow", "MIB: grow by MIB MiB, touch it, print ok, hold", func(args []string) {
		n := atoi(arg(args, 0))
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			touch(b)
			hoard = append(hoard, b)
		}
		fmt.Printf("memgrow: ok %d\n", n)
		io.Copy(io.Discard, os.Stdin)
		if len(hoard) != n {
			os.Exit(3)
		}
	})
	register("memhog", ": allocate and touch 1 MiB blocks forever", func(args []string) {
		for i := 1; ; i++ {
			b := make([]byte, 1<<20)
			touch(b)
			hoard = append(hoard, b)
			if i%16 == 0 {
				fmt.Printf("memhog: %d\n", i)
			}
		}
	})
	register("fdhoard", "DIR N: open DIR/fdhoard up to N times (0: until an error), hold", func(args []string) {
		dir, n := arg(args, 0), atoi(arg(args, 1))
		p := path.Join(dir, "fdhoard")
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			report("fdhoard create", err)
			os.Exit(1)
		}
		var files []*os.File
		var err error
		for n == 0 || len(files) < n {
			var f *os.File
			if f, err = os.Open(p); err != nil {
				break
			}
			files = append(files, f)
		}
		fmt.Printf("fdhoard: opened %d\n", len(files))
		report("fdhoard", err)
		io.Copy(io.Discard, os.Stdin)
		for _, f := range files {
			f.Close()
		}
	})
}

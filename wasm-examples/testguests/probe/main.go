//go:build wasip1

// Command probe is a multi-mode test guest for the runtime conformance suite
// (runtime/enginetest). The first argument selects the mode:
//
//	hello                  print "hello" to stdout and "oops" to stderr
//	exit N                 exit with code N
//	args                   print each argument after "args", one a line
//	env                    print the environment, one KEY=VALUE a line
//	pwd                    print the working directory
//	cat PATH               print the file's contents
//	write PATH TEXT        write TEXT to PATH (create/truncate)
//	ls DIR                 print the names in DIR, one a line
//	mkdir PATH             create a directory
//	rm PATH                remove a file or empty directory
//	symlink TARGET LINK    create a symlink
//	readlink PATH          print a symlink's target
//	spin                   print "ready" and loop forever
//	sleep                  print "ready" and sleep for an hour
//	waitterm [CODE]        print "ready", read stdin to EOF, print "term", exit CODE
//	readstdin              copy stdin to stdout
//	memhog                 allocate and touch 1 MiB blocks forever
//	trap                   perform an out-of-bounds memory access (a wasm trap)
//
// WASI conformance modes (wasi.go): fsops DIR, stat PATH, clocks, random,
// sleepms N, pollstdin, nonblock, blockread, emfile, rawopen PATH,
// badptr, readdirbig DIR.
//
// A failing file operation prints the error to stderr and exits 1.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: probe MODE [ARGS...]"))
	}
	mode, args := os.Args[1], os.Args[2:]
	switch mode {
	case "hello":
		fmt.Println("hello")
		fmt.Fprintln(os.Stderr, "oops")
	case "exit":
		code, err := strconv.Atoi(arg(args, 0))
		if err != nil {
			fail(err)
		}
		os.Exit(code)
	case "args":
		for _, a := range args {
			fmt.Println(a)
		}
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "pwd":
		wd, err := os.Getwd()
		if err != nil {
			fail(err)
		}
		fmt.Println(wd)
	case "cat":
		b, err := os.ReadFile(arg(args, 0))
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(b)
	case "write":
		if err := os.WriteFile(arg(args, 0), []byte(arg(args, 1)), 0o644); err != nil {
			fail(err)
		}
	case "ls":
		ents, err := os.ReadDir(arg(args, 0))
		if err != nil {
			fail(err)
		}
		for _, e := range ents {
			fmt.Println(e.Name())
		}
	case "mkdir":
		if err := os.Mkdir(arg(args, 0), 0o755); err != nil {
			fail(err)
		}
	case "rm":
		if err := os.Remove(arg(args, 0)); err != nil {
			fail(err)
		}
	case "symlink":
		if err := os.Symlink(arg(args, 0), arg(args, 1)); err != nil {
			fail(err)
		}
	case "readlink":
		t, err := os.Readlink(arg(args, 0))
		if err != nil {
			fail(err)
		}
		fmt.Println(t)
	case "spin":
		fmt.Println("ready")
		n := 0
		for {
			n++
		}
	case "sleep":
		fmt.Println("ready")
		time.Sleep(time.Hour)
		fmt.Println("woke")
	case "waitterm":
		code := 0
		if len(args) > 0 {
			c, err := strconv.Atoi(args[0])
			if err != nil {
				fail(err)
			}
			code = c
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		fmt.Println("term")
		os.Exit(code)
	case "readstdin":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fail(err)
		}
	case "memhog":
		var blocks [][]byte
		for i := 1; ; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = byte(j)
			}
			blocks = append(blocks, b)
			if i%16 == 0 {
				fmt.Fprintf(os.Stderr, "allocated %d MiB\n", i)
			}
		}
	case "trap":
		var x [8]byte
		// An address far beyond any linear memory the guest has: the load
		// is a wasm out-of-bounds access, which traps in the engine.
		p := (*byte)(unsafe.Add(unsafe.Pointer(&x[0]), 3<<30))
		fmt.Println(*p)
	default:
		if f, ok := wasiModes[mode]; ok {
			f(args)
			return
		}
		fail(fmt.Errorf("unknown mode %q", mode))
	}
}

func arg(args []string, i int) string {
	if i >= len(args) {
		fail(fmt.Errorf("missing argument %d", i+1))
	}
	return args[i]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "probe:", err)
	os.Exit(1)
}

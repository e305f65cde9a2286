// Command configprobe is the guest of the configuration tests
// (config_e2e_test.go): it prints what a container gets from ConfigMaps,
// Secrets and the downward API, one line per argument, in order:
//
//	env:NAME     NAME=value, or NAME=<unset>
//	cat:PATH     PATH=content (quoted as a Go string)
//	mode:PATH    PATH mode=0644 (permission bits of the file)
//	write:PATH   PATH write=ok, or PATH write=error (writing must fail on
//	             a read-only volume)
//	ls:DIR       DIR ls=a,b,c (sorted, entries starting with ".." left out)
//	watch:PATH   once the other arguments are done: prints PATH=content
//	             now and again whenever it changes, forever (every 100 ms);
//	             several may be given
//	resolve:NAME NAME resolve=ip,ip (the pod's name resolution, through
//	             podnet), or NAME resolve=error
//	sleep        sleeps forever (keeps the pod running)
//	put:PATH=TXT writes TXT to PATH (the termination tests), printing
//	             PATH put=ok or PATH put=error
//	fill:PATH=N  writes N bytes "x" to PATH, printing PATH fill=ok or
//	             PATH fill=error
//	exit:N       exits at once with code N
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
)

func main() {
	var watched []string
	defer func() { watch(watched) }()
	for _, a := range os.Args[1:] {
		op, arg, _ := strings.Cut(a, ":")
		switch op {
		case "env":
			v, ok := os.LookupEnv(arg)
			if !ok {
				v = "<unset>"
			}
			fmt.Printf("%s=%s\n", arg, v)
		case "cat":
			b, err := os.ReadFile(arg)
			if err != nil {
				fmt.Printf("%s error=%v\n", arg, err)
				continue
			}
			fmt.Printf("%s=%q\n", arg, b)
		case "mode":
			fi, err := os.Stat(arg)
			if err != nil {
				fmt.Printf("%s error=%v\n", arg, err)
				continue
			}
			fmt.Printf("%s mode=%#o\n", arg, fi.Mode().Perm())
		case "write":
			err := os.WriteFile(arg, []byte("guest"), 0o644)
			if err != nil {
				fmt.Printf("%s write=error\n", arg)
			} else {
				fmt.Printf("%s write=ok\n", arg)
			}
		case "ls":
			ents, err := os.ReadDir(arg)
			if err != nil {
				fmt.Printf("%s error=%v\n", arg, err)
				continue
			}
			var names []string
			for _, e := range ents {
				if !strings.HasPrefix(e.Name(), "..") {
					names = append(names, e.Name())
				}
			}
			sort.Strings(names)
			fmt.Printf("%s ls=%s\n", arg, strings.Join(names, ","))
		case "watch":
			watched = append(watched, arg)
		case "resolve":
			addrs, err := podnet.LookupHost(context.Background(), arg)
			if err != nil {
				fmt.Printf("%s resolve=error\n", arg)
				continue
			}
			fmt.Printf("%s resolve=%s\n", arg, strings.Join(addrs, ","))
		case "put":
			path, text, _ := strings.Cut(arg, "=")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				fmt.Printf("%s put=error\n", path)
			} else {
				fmt.Printf("%s put=ok\n", path)
			}
		case "fill":
			path, num, _ := strings.Cut(arg, "=")
			n, _ := strconv.Atoi(num)
			if err := os.WriteFile(path, []byte(strings.Repeat("x", n)), 0o644); err != nil {
				fmt.Printf("%s fill=error\n", path)
			} else {
				fmt.Printf("%s fill=ok\n", path)
			}
		case "exit":
			n, _ := strconv.Atoi(arg)
			os.Exit(n)
		case "sleep":
			for {
				time.Sleep(time.Hour)
			}
		default:
			fmt.Fprintf(os.Stderr, "configprobe: unknown op %q\n", a)
			os.Exit(2)
		}
	}
}

// watch prints each file's content whenever it changes, forever; it
// returns at once when there is nothing to watch.
func watch(paths []string) {
	if len(paths) == 0 {
		return
	}
	last := map[string]string{}
	for {
		for _, p := range paths {
			b, err := os.ReadFile(p)
			cur := fmt.Sprintf("%q", b)
			if err != nil {
				cur = "error"
			}
			if prev, ok := last[p]; !ok || prev != cur {
				fmt.Printf("%s=%s\n", p, cur)
				last[p] = cur
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

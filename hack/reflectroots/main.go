// Command reflectroots says why the linker keeps every exported method of
// every type that is converted to an interface: it lists the reachable
// functions the compiler marked <ReflectMethod> (a call of
// reflect.Value.Method or MethodByName with a name not known at compile
// time; text/template's field evaluation is the usual one), each with the
// chain of callers that made it reachable, from the linker's -dumpdep
// (which records the first caller found, so one chain each).
//
//	go run ./hack/reflectroots [-tags TAGS] [PACKAGE]   # default ./cli/wasmpod
//
// reflect's own lookups (and wrappers of them) are listed apart: they are
// kept once the retention is on; their callers are the causes. An empty
// list means the method dead-code elimination is on. Throwaway
// builds measured what it keeps (issue 14): 7.3 MB of the 47.3 MB release
// binary.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	tags := flag.String("tags", "grpcnotrace", "build tags (the Justfile's release_tags)")
	depth := flag.Int("depth", 40, "callers to print for each")
	flag.Parse()
	pkg := "./cli/wasmpod"
	if flag.NArg() > 0 {
		pkg = flag.Arg(0)
	}
	dir, err := os.MkdirTemp("", "reflectroots")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-tags", *tags, "-ldflags=-dumpdep", "-o", filepath.Join(dir, "bin"), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("go build: %v\n%s", err, tail(out.String())))
	}
	parent := map[string]string{}
	var marked []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		from, to, ok := strings.Cut(sc.Text(), " -> ")
		if !ok {
			continue
		}
		name, isMarked := strings.CutSuffix(to, " <ReflectMethod>")
		name = strings.TrimSuffix(name, " <UsedInIface>")
		if _, seen := parent[name]; !seen {
			parent[name] = strings.TrimSuffix(strings.TrimSuffix(from, " <UsedInIface>"), " <ReflectMethod>")
		}
		if isMarked {
			marked = append(marked, name)
		}
	}
	sort.Strings(marked)
	if len(marked) == 0 {
		fmt.Println("no reachable <ReflectMethod> function: unused methods are dropped")
		return
	}
	// reflect's own Method, MethodByName and Methods (and wrappers of an
	// embedded reflect.Value or Type) are marked too, but are kept through
	// their types' method tables once the retention is on: listed apart,
	// without chains. The causes are their callers.
	var viaType []string
	for _, m := range marked {
		if isReflectAPI(m) {
			viaType = append(viaType, m)
			continue
		}
		fmt.Println(m)
		for i, p := 0, parent[m]; p != "" && p != "_" && i < *depth; i, p = i+1, parent[p] {
			fmt.Println("    <-", p)
		}
	}
	if len(viaType) > 0 {
		fmt.Println("reflect's method lookups and their wrappers (kept because of the above):")
		for _, m := range viaType {
			fmt.Println("   ", m)
		}
	}
}

// isReflectAPI reports whether a marked function is reflect's Method,
// MethodByName or Methods, a wrapper of one, or a closure inside one.
func isReflectAPI(name string) bool {
	for _, m := range []string{".Method", ".MethodByName", ".Methods"} {
		if strings.HasSuffix(name, m) || strings.Contains(name, m+".") {
			return true
		}
	}
	return false
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "reflectroots:", err)
	os.Exit(1)
}

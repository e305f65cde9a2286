// Command sizetable prints what a Go binary's size is made of, summed by
// module (or by package): the sizes of its ELF symbols (what `go tool nm
// -size` lists, less the zeroed .bss), each attributed to the package in
// its name, the packages mapped to the modules `go version -m` records.
// Symbol tables are gone from a stripped binary (-ldflags "-s -w"), so
// point it at an unstripped build of the same source. The function table
// (.gopclntab, which a stripped binary keeps) is not in any symbol's size:
// the sections over 1 MB are listed first.
//
//	CGO_ENABLED=0 go build -trimpath -o /tmp/wasmpod ./cli/wasmpod
//	go run ./hack/sizetable /tmp/wasmpod            # by module
//	go run ./hack/sizetable -by package -top 40 /tmp/wasmpod
package main

import (
	"debug/elf"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
)

func main() {
	by := flag.String("by", "module", "sum by module or package")
	top := flag.Int("top", 30, "rows to print (0: all)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: sizetable [-by module|package] [-top N] BINARY")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || (*by != "module" && *by != "package") {
		flag.Usage()
		os.Exit(2)
	}
	bin := flag.Arg(0)
	mods, err := modules(bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizetable:", err)
		os.Exit(1)
	}
	f, err := elf.Open(bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizetable: only ELF binaries (build with GOOS=linux):", err)
		os.Exit(1)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizetable: no symbol table (a stripped binary? build without -s -w):", err)
		os.Exit(1)
	}
	sums := map[string]int64{}
	var total int64
	for _, sym := range syms {
		// Only what the file holds: not .bss/.noptrbss (zeroed at start).
		if sym.Size == 0 || int(sym.Section) <= 0 || int(sym.Section) >= len(f.Sections) ||
			f.Sections[sym.Section].Type == elf.SHT_NOBITS {
			continue
		}
		key := pkgOf(unescape(sym.Name))
		if *by == "module" {
			key = moduleOf(key, mods)
		}
		sums[key] += int64(sym.Size)
		total += int64(sym.Size)
	}
	type row struct {
		name string
		size int64
	}
	var rows []row
	for k, v := range sums {
		rows = append(rows, row{k, v})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].size != rows[j].size {
			return rows[i].size > rows[j].size
		}
		return rows[i].name < rows[j].name
	})
	st, err := os.Stat(bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizetable:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %.1f MB on disk, %.1f MB in symbols; sections:\n", bin, mb(st.Size()), mb(total))
	for _, sec := range f.Sections {
		if sec.Flags&elf.SHF_ALLOC != 0 && sec.Type != elf.SHT_NOBITS && sec.Size >= 1<<20 {
			fmt.Printf("  %-12s %6.2f MB\n", sec.Name, mb(int64(sec.Size)))
		}
	}
	fmt.Println()
	fmt.Printf("| %s | MB | %% |\n|---|---:|---:|\n", *by)
	var rest int64
	for i, r := range rows {
		if *top > 0 && i >= *top {
			rest += r.size
			continue
		}
		fmt.Printf("| %s | %.2f | %.1f |\n", r.name, mb(r.size), 100*float64(r.size)/float64(total))
	}
	if rest > 0 {
		fmt.Printf("| (%d more) | %.2f | %.1f |\n", len(rows)-*top, mb(rest), 100*float64(rest)/float64(total))
	}
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// modules lists the binary's main module and dependencies (after replaces).
func modules(bin string) ([]string, error) {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("go version -m: %w", err)
	}
	var mods []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "mod" || f[0] == "dep") {
			mods = append(mods, f[1])
		}
	}
	// Longest first, so a nested module wins over its parent's path.
	sort.Slice(mods, func(i, j int) bool { return len(mods[i]) > len(mods[j]) })
	return mods, nil
}

// pkgOf is the import path a symbol belongs to: the linker's prefixes
// (type:, go:itab., ...) dropped, then everything before the first dot
// after the last slash. Symbols with no package (runtime tables, the
// pclntab's pieces) keep their own name's first word.
func pkgOf(sym string) string {
	if rest, ok := strings.CutPrefix(sym, "go:itab."); ok {
		// go:itab.TYPE,INTERFACE: the concrete type's.
		sym, _, _ = strings.Cut(rest, ",")
	}
	for _, p := range []string{"type:.eq.", "type:.hash.", "type:.namedata.", "type:.importpath.", "type:", "go:string.", "go:link.", "go:info.", "go:cuinfo."} {
		if strings.HasPrefix(sym, p) {
			sym = strings.TrimPrefix(sym, p)
			break
		}
	}
	sym = strings.TrimLeft(sym, "*[]0123456789")
	for _, p := range []string{"map[", "func(", "struct {", "interface {", "chan ", "noalg."} {
		if strings.HasPrefix(sym, p) {
			return "(anonymous types)"
		}
	}
	if i := strings.IndexByte(sym, '['); i > 0 { // generic instantiations
		sym = sym[:i]
	}
	slash := strings.LastIndexByte(sym, '/')
	if dot := strings.IndexByte(sym[slash+1:], '.'); dot >= 0 {
		return sym[:slash+1+dot]
	}
	return sym
}

// moduleOf maps an import path to its module, or to "std" for the
// standard library (no dot in the first element).
func moduleOf(pkg string, mods []string) string {
	for _, m := range mods {
		if pkg == m || strings.HasPrefix(pkg, m+"/") {
			return m
		}
	}
	first, _, _ := strings.Cut(pkg, "/")
	if !strings.Contains(first, ".") {
		return "std"
	}
	return pkg
}

// unescape undoes the linker's escaping of import paths in symbol names
// (gopkg.in/inf%2ev0 is gopkg.in/inf.v0).
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

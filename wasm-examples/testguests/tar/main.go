// Command tar is the test guest of kubectl cp, attach and run -i
// (kubectl_stream_e2e_test.go). Exec runs a container's own module with
// the exec's argv, so this one module also answers kubectl cp's commands,
// chosen by argv[0]:
//
//   - tar cf - PATH...: an archive of each PATH (directories recursively)
//     on stdout, names without the leading "/", as GNU tar writes them;
//   - tar [--no-same-permissions] [--no-same-owner] -xmf - [-C DIR]: the
//     archive on stdin extracted under DIR (default "."), parents made as
//     needed; a name that would leave DIR is refused;
//   - test -d PATH: exit 0 when PATH is a directory, 1 otherwise.
//
// Run as a container (argv[0] is the container's name), argv[1] is the mode:
//
//   - greet CODE: "hello from the guest" on stdout, "a warning" on stderr,
//     then stdin copied to stdout, then exit CODE;
//   - ticker: "tick N" on stdout every 100 ms, forever;
//   - sleep: nothing, forever.
package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	switch filepath.Base(os.Args[0]) {
	case "tar":
		tarMain(os.Args[1:])
		return
	case "test":
		if len(os.Args) == 3 && os.Args[1] == "-d" {
			if fi, err := os.Stat(os.Args[2]); err == nil && fi.IsDir() {
				os.Exit(0)
			}
			os.Exit(1)
		}
		fail(fmt.Errorf("test: usage: test -d PATH"))
	}
	if len(os.Args) < 2 {
		fail(errors.New("usage: NAME greet CODE | ticker | sleep"))
	}
	switch os.Args[1] {
	case "greet":
		code := 0
		if len(os.Args) > 2 {
			code, _ = strconv.Atoi(os.Args[2])
		}
		fmt.Println("hello from the guest")
		fmt.Fprintln(os.Stderr, "a warning")
		io.Copy(os.Stdout, os.Stdin)
		os.Exit(code)
	case "ticker":
		for i := 1; ; i++ {
			fmt.Printf("tick %d\n", i)
			time.Sleep(100 * time.Millisecond)
		}
	case "sleep":
		for {
			time.Sleep(time.Hour)
		}
	}
	fail(fmt.Errorf("unknown mode %q", os.Args[1]))
}

func tarMain(args []string) {
	var create, extract bool
	dir := "."
	var paths []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "cf" || a == "-cf":
			create = true
			if i+1 >= len(args) || args[i+1] != "-" {
				fail(errors.New("tar: only an archive on stdout (f -) is supported"))
			}
			i++
		case a == "-xmf" || a == "xmf" || a == "-xf" || a == "xf":
			extract = true
			if i+1 >= len(args) || args[i+1] != "-" {
				fail(errors.New("tar: only an archive on stdin (f -) is supported"))
			}
			i++
		case a == "-C":
			if i+1 >= len(args) {
				fail(errors.New("tar: -C needs a directory"))
			}
			dir = args[i+1]
			i++
		case a == "--no-same-permissions" || a == "--no-same-owner":
		case strings.HasPrefix(a, "-"):
			fail(fmt.Errorf("tar: unsupported option %q", a))
		default:
			paths = append(paths, a)
		}
	}
	switch {
	case create && !extract:
		tw := tar.NewWriter(os.Stdout)
		for _, p := range paths {
			if err := addTree(tw, p); err != nil {
				fail(err)
			}
		}
		if err := tw.Close(); err != nil {
			fail(err)
		}
	case extract && !create:
		if err := extractAll(tar.NewReader(os.Stdin), dir); err != nil {
			fail(err)
		}
	default:
		fail(errors.New("tar: give one of cf - or -xmf -"))
	}
}

// addTree writes p, and under it everything a directory holds.
func addTree(tw *tar.Writer, p string) error {
	return filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(name); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = strings.TrimLeft(filepath.ToSlash(name), "/")
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}

func extractAll(tr *tar.Reader, dir string) error {
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel := path.Clean("/" + hdr.Name)[1:] // never above dir
		if rel == "" {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(hdr.Linkname, dst); err != nil {
				return err
			}
		default:
			fmt.Fprintf(os.Stderr, "tar: %s: skipping entry of type %c\n", hdr.Name, hdr.Typeflag)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

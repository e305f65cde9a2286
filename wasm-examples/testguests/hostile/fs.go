//go:build wasip1

package main

import (
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"
)

func init() {
	register("plant", "DIR NAME DEPTH UP: plant an escaping symlink DIR/NAME by rename", func(args []string) {
		dir, name, depth, up := arg(args, 0), arg(args, 1), atoi(arg(args, 2)), atoi(arg(args, 3))
		deep := dir
		for i := 1; i <= depth; i++ {
			deep = path.Join(deep, fmt.Sprintf("d%d", i))
		}
		report("mkdir", os.MkdirAll(deep, 0o755))
		target := strings.TrimSuffix(strings.Repeat("../", up), "/")
		if target == "" {
			target = "."
		}
		link := path.Join(deep, "l")
		report("symlink", os.Symlink(target, link))
		report("rename", os.Rename(link, path.Join(dir, name)))
	})
	register("symlink", "TARGET LINK", func(args []string) {
		report("symlink", os.Symlink(arg(args, 0), arg(args, 1)))
	})
	register("rename", "OLD NEW", func(args []string) {
		report("rename", os.Rename(arg(args, 0), arg(args, 1)))
	})
	register("link", "OLD NEW", func(args []string) {
		report("link", os.Link(arg(args, 0), arg(args, 1)))
	})
	register("readlink", "PATH", func(args []string) {
		t, err := os.Readlink(arg(args, 0))
		if err == nil {
			fmt.Printf("readlink: ok %s\n", t)
			return
		}
		report("readlink", err)
	})
	register("cat", "PATH: print cat: ok N, then the contents", func(args []string) {
		b, err := os.ReadFile(arg(args, 0))
		if err != nil {
			report("cat", err)
			return
		}
		fmt.Printf("cat: ok %d\n", len(b))
		os.Stdout.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			fmt.Println()
		}
	})
	register("write", "PATH TEXT", func(args []string) {
		report("write", os.WriteFile(arg(args, 0), []byte(arg(args, 1)), 0o644))
	})
	register("mkdir", "PATH", func(args []string) {
		report("mkdir", os.Mkdir(arg(args, 0), 0o755))
	})
	register("rmdir", "PATH", func(args []string) {
		report("rmdir", syscall.Rmdir(arg(args, 0)))
	})
	register("rm", "PATH", func(args []string) {
		report("rm", os.Remove(arg(args, 0)))
	})
	register("ls", "DIR", func(args []string) {
		ents, err := os.ReadDir(arg(args, 0))
		if err != nil {
			report("ls", err)
			return
		}
		fmt.Printf("ls: ok %d\n", len(ents))
		for _, e := range ents {
			fmt.Printf("ls: %s\n", e.Name())
		}
	})
	register("fill", "PATH CHUNK: append CHUNK-byte blocks until an error", func(args []string) {
		f, err := os.OpenFile(arg(args, 0), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			report("fill", err)
			return
		}
		defer f.Close()
		buf := make([]byte, atoi(arg(args, 1)))
		for i := range buf {
			buf[i] = byte('a' + i%26)
		}
		writeUntilError("fill", f, buf)
	})
	register("unlinkfill", "PATH CHUNK: open PATH, unlink it, append until an error, then close", func(args []string) {
		f, err := os.OpenFile(arg(args, 0), os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			report("unlinkfill", err)
			return
		}
		report("unlink", os.Remove(arg(args, 0)))
		buf := make([]byte, atoi(arg(args, 1)))
		writeUntilError("unlinkfill", f, buf)
		report("close", f.Close())
	})
	register("truncate", "PATH SIZE: fd_filestat_set_size", func(args []string) {
		f, err := os.OpenFile(arg(args, 0), os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			report("truncate", err)
			return
		}
		defer f.Close()
		report("truncate", f.Truncate(int64(parseSize(arg(args, 1)))))
	})
	register("allocate", "PATH OFF LEN: fd_allocate", func(args []string) {
		f, err := os.OpenFile(arg(args, 0), os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			report("allocate", err)
			return
		}
		defer f.Close()
		errno := fdAllocate(int32(f.Fd()), parseSize(arg(args, 1)), parseSize(arg(args, 2)))
		if errno != 0 {
			report("allocate", syscall.Errno(errno))
			return
		}
		report("allocate", nil)
	})
	register("pwrite", "PATH OFF TEXT: write TEXT at OFF", func(args []string) {
		f, err := os.OpenFile(arg(args, 0), os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			report("pwrite", err)
			return
		}
		defer f.Close()
		_, err = f.WriteAt([]byte(arg(args, 2)), int64(parseSize(arg(args, 1))))
		report("pwrite", err)
	})
}

// parseSize reads a byte count with an optional K, M, G or T suffix (binary).
func parseSize(s string) uint64 {
	mult := uint64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			s = s[:n-1]
		}
	}
	return uint64(atoi(s)) * mult
}

//go:wasmimport wasi_snapshot_preview1 fd_allocate
func fdAllocate(fd int32, offset uint64, length uint64) uint32

// writeUntilError writes buf to f until a write fails, then prints
// "NAME: wrote BYTES" and reports the error as NAME.
func writeUntilError(name string, f *os.File, buf []byte) {
	var total int64
	for {
		n, err := f.Write(buf)
		total += int64(n)
		if err != nil {
			fmt.Printf("%s: wrote %d\n", name, total)
			report(name, err)
			return
		}
	}
}

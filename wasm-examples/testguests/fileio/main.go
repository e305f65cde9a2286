// Command fileio is the guest of the file I/O benchmarks
// (runtime/wazero/fileio_bench_test.go): one instance does many operations
// of one kind on files in a mounted directory, so that instance start-up
// stays out of the measurement.
//
// Usage: fileio DIR. DIR must hold "data" (a file of 1 MiB) and "d1000"
// (a directory of 1,000 entries); the guest writes "w4k" and "w1m" in DIR.
// It reads commands on stdin, one a line, "OP N", does OP N times and
// answers "done OP NS" on stdout, NS being the nanoseconds the N operations
// took by the guest's monotonic clock (which leaves out the command's round
// trip). Errors are answered "error OP: ERR". It exits 0 at stdin EOF (TERM).
//
//	write4k N      N sequential 4 KiB writes (fd_write) to DIR/w4k, back to
//	               offset 0 every 1 MiB (fd_seek)
//	read4k N       N sequential 4 KiB reads (fd_read) of DIR/data, back to
//	               offset 0 at its end (fd_seek)
//	write1m N      N 1 MiB writes at offset 0 (fd_pwrite) to DIR/w1m
//	read1m N       N 1 MiB reads at offset 0 (fd_pread) of DIR/data
//	stat N         N stats of DIR/data by path (path_filestat_get)
//	readdir1000 N  N times: open DIR/d1000, read all of its entries
//	               (fd_readdir), close; each must list 1,000 entries
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	small    = 4 << 10
	large    = 1 << 20
	dirCount = 1000
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fileio DIR (then OP N lines on stdin)")
		os.Exit(2)
	}
	// Writes write wbuf (byte i is byte(i)); reads read into rbuf.
	g := &guest{dir: os.Args[1], wbuf: make([]byte, large), rbuf: make([]byte, large)}
	for i := range g.wbuf {
		g.wbuf[i] = byte(i)
	}
	defer g.close()
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		op, arg, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			fmt.Fprintf(out, "error %s: bad count %q\n", op, arg)
			out.Flush()
			continue
		}
		t0 := time.Now()
		err = g.do(op, n)
		ns := time.Since(t0).Nanoseconds()
		if err != nil {
			fmt.Fprintf(out, "error %s: %v\n", op, err)
		} else {
			fmt.Fprintf(out, "done %s %d\n", op, ns)
		}
		out.Flush()
	}
}

type guest struct {
	dir          string
	wbuf, rbuf   []byte
	w4k, r4k     *os.File
	w1m, r1m     *os.File
	w4kN, r4kOff int
}

func (g *guest) close() {
	for _, f := range []*os.File{g.w4k, g.r4k, g.w1m, g.r1m} {
		if f != nil {
			f.Close()
		}
	}
}

// open opens the file an op works on once, on its first use.
func (g *guest) open(f **os.File, name string, flag int) (*os.File, error) {
	if *f == nil {
		var err error
		if *f, err = os.OpenFile(filepath.Join(g.dir, name), flag, 0o644); err != nil {
			return nil, err
		}
	}
	return *f, nil
}

func (g *guest) do(op string, n int) error {
	switch op {
	case "write4k":
		f, err := g.open(&g.w4k, "w4k", os.O_WRONLY|os.O_CREATE)
		if err != nil {
			return err
		}
		for range n {
			if g.w4kN == large/small {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return err
				}
				g.w4kN = 0
			}
			if _, err := f.Write(g.wbuf[:small]); err != nil {
				return err
			}
			g.w4kN++
		}
	case "read4k":
		f, err := g.open(&g.r4k, "data", os.O_RDONLY)
		if err != nil {
			return err
		}
		for range n {
			if g.r4kOff == large {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return err
				}
				g.r4kOff = 0
			}
			m, err := f.Read(g.rbuf[:small])
			if err != nil {
				return err
			}
			if m != small {
				return fmt.Errorf("read %d bytes at offset %d, want %d", m, g.r4kOff, small)
			}
			g.r4kOff += m
		}
	case "write1m":
		f, err := g.open(&g.w1m, "w1m", os.O_WRONLY|os.O_CREATE)
		if err != nil {
			return err
		}
		for range n {
			if _, err := f.WriteAt(g.wbuf, 0); err != nil {
				return err
			}
		}
	case "read1m":
		f, err := g.open(&g.r1m, "data", os.O_RDONLY)
		if err != nil {
			return err
		}
		for range n {
			if m, err := f.ReadAt(g.rbuf, 0); err != nil && !(errors.Is(err, io.EOF) && m == large) {
				return err
			} else if m != large {
				return fmt.Errorf("read %d bytes, want %d", m, large)
			}
		}
	case "stat":
		p := filepath.Join(g.dir, "data")
		for range n {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if fi.Size() != large {
				return fmt.Errorf("%s: size %d, want %d", p, fi.Size(), large)
			}
		}
	case "readdir1000":
		p := filepath.Join(g.dir, "d1000")
		for range n {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			names, err := f.Readdirnames(-1)
			f.Close()
			if err != nil {
				return err
			}
			if len(names) != dirCount {
				return fmt.Errorf("%s: %d entries, want %d", p, len(names), dirCount)
			}
		}
	default:
		return errors.New("unknown operation")
	}
	return nil
}

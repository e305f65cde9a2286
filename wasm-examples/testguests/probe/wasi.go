//go:build wasip1

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// wasiModes exercise the WASI layer; each prints lines the conformance
// suite compares, and fails (exit 1) on the first unexpected result.
var wasiModes = map[string]func(args []string){
	// fsops DIR: files, seek, stat, pread/pwrite, append, truncate, rename,
	// readdir, unlink, mkdir/rmdir, in DIR.
	"fsops": func(args []string) {
		dir := arg(args, 0)
		p := filepath.Join(dir, "f.txt")
		check("create", os.WriteFile(p, []byte("hello world"), 0o644))
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		check("open", err)
		off, err := f.Seek(6, io.SeekStart)
		check("seek", err)
		b := make([]byte, 5)
		_, err = io.ReadFull(f, b)
		check("read", err)
		fmt.Printf("seek %d read %q\n", off, b)
		cur, err := f.Seek(0, io.SeekCurrent)
		check("tell", err)
		end, err := f.Seek(-5, io.SeekEnd)
		check("seekend", err)
		fmt.Printf("tell %d end-5 %d\n", cur, end)
		_, err = f.WriteAt([]byte("WORLD"), 6)
		check("pwrite", err)
		_, err = f.ReadAt(b, 6)
		check("pread", err)
		fmt.Printf("pread %q\n", b)
		check("truncate", f.Truncate(5))
		fi, err := f.Stat()
		check("fstat", err)
		fmt.Printf("size %d regular %v\n", fi.Size(), fi.Mode().IsRegular())
		check("close", f.Close())
		a, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		check("openappend", err)
		_, err = a.Write([]byte("+tail"))
		check("append", err)
		check("close", a.Close())
		got, err := os.ReadFile(p)
		check("readfile", err)
		fmt.Printf("content %q\n", got)
		check("rename", os.Rename(p, filepath.Join(dir, "g.txt")))
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			fail(fmt.Errorf("old name after rename: %v", err))
		}
		check("mkdir", os.Mkdir(filepath.Join(dir, "sub"), 0o755))
		check("write2", os.WriteFile(filepath.Join(dir, "sub", "x"), nil, 0o644))
		if err := os.Remove(filepath.Join(dir, "sub")); err == nil {
			fail(errors.New("removed a non-empty directory"))
		}
		ents, err := os.ReadDir(dir)
		check("readdir", err)
		for _, e := range ents {
			fmt.Printf("entry %s dir=%v\n", e.Name(), e.IsDir())
		}
		check("unlink", os.Remove(filepath.Join(dir, "sub", "x")))
		check("rmdir", os.Remove(filepath.Join(dir, "sub")))
		check("unlink2", os.Remove(filepath.Join(dir, "g.txt")))
		if _, err := os.OpenFile(filepath.Join(dir, "g.txt"), os.O_RDONLY, 0); !errors.Is(err, os.ErrNotExist) {
			fail(fmt.Errorf("open after unlink: %v", err))
		}
		if err := os.WriteFile(filepath.Join(dir, "nodir", "x"), nil, 0o644); !errors.Is(err, os.ErrNotExist) {
			fail(fmt.Errorf("create in a missing dir: %v", err))
		}
		ents, err = os.ReadDir(dir)
		check("readdir2", err)
		fmt.Printf("left %d\n", len(ents))
	},
	"stat": func(args []string) {
		fi, err := os.Stat(arg(args, 0))
		check("stat", err)
		fmt.Printf("size %d dir %v mtime %d\n", fi.Size(), fi.IsDir(), fi.ModTime().Unix())
	},
	// clocks: realtime (printed, unix seconds) and monotonic progress.
	"clocks": func([]string) {
		fmt.Println(time.Now().Unix())
		t0 := time.Now()
		time.Sleep(20 * time.Millisecond)
		if d := time.Since(t0); d < 20*time.Millisecond {
			fail(fmt.Errorf("slept %v, want >= 20ms", d))
		}
		fmt.Println("monotonic ok")
	},
	"random": func([]string) {
		a, b := make([]byte, 32), make([]byte, 32)
		_, err := rand.Read(a)
		check("rand", err)
		_, err = rand.Read(b)
		check("rand", err)
		if bytes.Equal(a, b) || bytes.Equal(a, make([]byte, 32)) {
			fail(errors.New("random_get returned repeated or zero bytes"))
		}
		fmt.Println("random ok")
	},
	"sleepms": func(args []string) {
		n, err := strconv.Atoi(arg(args, 0))
		check("atoi", err)
		t0 := time.Now()
		time.Sleep(time.Duration(n) * time.Millisecond)
		fmt.Printf("slept %v\n", time.Since(t0) >= time.Duration(n)*time.Millisecond)
	},
	// pollstdin: wait 50 ms for stdin with a timer (a select over the
	// stdin reader goroutine and a timer, i.e. poll_oneoff with an fd and a
	// clock subscription), report the timeout, then print each line read
	// until EOF.
	"pollstdin": func([]string) {
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		t0 := time.Now()
		select {
		case l := <-lines:
			fail(fmt.Errorf("unexpected line %q before the timeout", l))
		case <-time.After(50 * time.Millisecond):
			fmt.Printf("timeout ok %v\n", time.Since(t0) >= 50*time.Millisecond)
		}
		fmt.Println("ready")
		for l := range lines {
			fmt.Println("got", l)
		}
		fmt.Println("eof")
	},
	// nonblock: a raw read of the (non-blocking) empty stdin gives EAGAIN;
	// then switch stdin to blocking mode and read what arrives.
	"nonblock": func([]string) {
		buf := make([]byte, 64)
		_, err := syscall.Read(0, buf)
		fmt.Println("nonblocking read:", errors.Is(err, syscall.EAGAIN))
		check("setblock", syscall.SetNonblock(0, false))
		fmt.Println("ready")
		n, err := syscall.Read(0, buf)
		check("blocking read", err)
		fmt.Printf("blocking read %q\n", buf[:n])
	},
	// blockread: block in a raw blocking read of stdin (for Kill).
	"blockread": func([]string) {
		check("setblock", syscall.SetNonblock(0, false))
		fmt.Println("ready")
		buf := make([]byte, 64)
		n, err := syscall.Read(0, buf)
		fmt.Printf("woke %d %v\n", n, err)
	},
	// emfile: open files until it fails; print whether the error is EMFILE.
	"emfile": func([]string) {
		var files []*os.File
		for i := 0; i < 100000; i++ {
			f, err := os.Open("/")
			if err != nil {
				fmt.Printf("opened %d, EMFILE %v\n", len(files), errors.Is(err, syscall.EMFILE))
				for _, f := range files {
					f.Close()
				}
				f, err := os.Open("/")
				check("open after closing", err)
				f.Close()
				return
			}
			files = append(files, f)
		}
		fail(errors.New("no fd limit"))
	},
	// rawopen PATH: path_open on the first preopen other than "/" (fd 3
	// is "/") with PATH as is (no cleaning by Go); print the errno.
	"rawopen": func(args []string) {
		p := []byte(arg(args, 0))
		dir := int32(3)
		for fd := int32(3); fd < 64; fd++ {
			var pre [2]uint32 // tag, name length
			if fdPrestatGet(fd, unsafe.Pointer(&pre)) != 0 {
				break
			}
			name := make([]byte, pre[1])
			if fdPrestatDirName(fd, unsafe.Pointer(unsafe.SliceData(name)), pre[1]) == 0 && string(name) != "/" {
				dir = fd
				break
			}
		}
		var fd int32
		e := pathOpen(dir, 1, unsafe.Pointer(unsafe.SliceData(p)), uint32(len(p)), 0, 1<<1, 0, 0, unsafe.Pointer(&fd))
		fmt.Printf("errno %d\n", e)
	},
	// badptr: WASI calls with out-of-bounds pointers and lengths; print
	// their errnos.
	"badptr": func([]string) {
		const far = 0xfffffff0
		var n uint32
		fmt.Printf("fd_write iovs %d\n", fdWrite(1, far, 1, uint32(uintptr(unsafe.Pointer(&n)))))
		iov := [2]uint32{far, 1000}
		fmt.Printf("fd_write buf %d\n", fdWrite(1, uint32(uintptr(unsafe.Pointer(&iov))), 1, uint32(uintptr(unsafe.Pointer(&n)))))
		fmt.Printf("random_get %d\n", randomGet(far, 1000))
		fmt.Printf("fd_write badfd %d\n", fdWrite(99, uint32(uintptr(unsafe.Pointer(&iov))), 0, uint32(uintptr(unsafe.Pointer(&n)))))
	},
	// readdirbig DIR: list DIR sorted, with sizes.
	"readdirbig": func(args []string) {
		ents, err := os.ReadDir(arg(args, 0))
		check("readdir", err)
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		fmt.Println(len(names), names[0], names[len(names)-1])
	},
}

func check(what string, err error) {
	if err != nil {
		fail(fmt.Errorf("%s: %w", what, err))
	}
}

//go:wasmimport wasi_snapshot_preview1 path_open
func pathOpen(fd int32, dirflags uint32, path unsafe.Pointer, pathLen uint32, oflags uint32, rightsBase uint64, rightsInheriting uint64, fdflags uint32, newfd unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_prestat_get
func fdPrestatGet(fd int32, prestat unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 fd_prestat_dir_name
func fdPrestatDirName(fd int32, path unsafe.Pointer, pathLen uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_write
func fdWrite(fd int32, iovs uint32, iovsLen uint32, nwritten uint32) uint32

//go:wasmimport wasi_snapshot_preview1 random_get
func randomGet(buf uint32, bufLen uint32) uint32

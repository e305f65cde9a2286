package cli

import (
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ForegroundUnderGoRun gives wasmpod a process group of its own and makes
// it the terminal's foreground group, when it runs in a terminal's
// foreground under `go run`; it returns the function that gives the
// terminal back (call it on every way out; it is a no-op otherwise).
//
// Why: Ctrl-C sends SIGINT to the terminal's whole foreground process
// group, so `go run` gets it as well as wasmpod; the go command then exits
// 1 whatever wasmpod returns (cmd/go's action runner sets exit status 1 on
// an interrupt), though `wasmpod run` stopped its pods cleanly and exited
// 0. In a group of its own wasmpod alone gets Ctrl-C (and a second Ctrl-C)
// and `go run` passes its exit status on.
//
// Ctrl-Z (SIGTSTP) then reaches wasmpod alone too: it gives the terminal
// back, rejoins go's group and stops the whole group, so that the shell
// sees its job stopped; on `fg` (SIGCONT with the terminal given to the
// job) it takes the terminal again. With no terminal on standard input,
// error or output, outside the terminal's foreground, or under any parent
// but the go command, it does nothing; nor when go run is not the leader of
// its process group, i.e. not a job of its own: in a shell script (no job
// control) Ctrl-C must still reach the script and stop it.
func ForegroundUnderGoRun() (restore func()) {
	noop := func() {}
	if syscall.Getpgrp() != os.Getppid() || !parentIsGoCommand() {
		return noop
	}
	fd := -1
	for _, f := range []int{0, 2, 1} {
		if fg, err := unix.IoctlGetInt(f, unix.TIOCGPGRP); err == nil && fg == syscall.Getpgrp() {
			fd = f
			break
		}
	}
	if fd < 0 {
		return noop
	}
	fg := &foreground{fd: fd, orig: syscall.Getpgrp()}
	// tcsetpgrp from a background group raises SIGTTOU, which stops the
	// process unless it is ignored.
	signal.Ignore(syscall.SIGTTOU)
	if !fg.take() {
		return noop
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTSTP, syscall.SIGCONT)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case s := <-sigs:
				if s == syscall.SIGTSTP {
					fg.suspend()
				} else {
					fg.resume()
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(stop)
			<-done
			fg.give()
		})
	}
}

// foreground is wasmpod's hold on the terminal fd.
type foreground struct {
	mu   sync.Mutex
	fd   int
	orig int  // the process group wasmpod started in: go run's
	own  bool // wasmpod is in a group of its own that holds the terminal
}

// take moves wasmpod into a group of its own and gives it the terminal.
func (f *foreground) take() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := syscall.Setpgid(0, 0); err != nil {
		return false
	}
	if err := unix.IoctlSetPointerInt(f.fd, unix.TIOCSPGRP, syscall.Getpid()); err != nil {
		_ = syscall.Setpgid(0, f.orig) // back where it was
		return false
	}
	f.own = true
	return true
}

// give hands the terminal back to the original group, if wasmpod's group
// still holds it, and rejoins that group.
func (f *foreground) give() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.own {
		return
	}
	if fg, err := unix.IoctlGetInt(f.fd, unix.TIOCGPGRP); err == nil && fg == syscall.Getpid() {
		_ = unix.IoctlSetPointerInt(f.fd, unix.TIOCSPGRP, f.orig)
	}
	_ = syscall.Setpgid(0, f.orig)
	f.own = false
}

// suspend answers Ctrl-Z: the terminal goes back to go run's group,
// wasmpod rejoins it and the whole group stops, as the shell expects of
// its job.
func (f *foreground) suspend() {
	f.give()
	_ = syscall.Kill(-f.orig, syscall.SIGSTOP)
}

// resume answers SIGCONT: when the shell gave the terminal to the job
// (fg), wasmpod takes it again; in the background (bg) it stays in go
// run's group.
func (f *foreground) resume() {
	f.mu.Lock()
	own := f.own
	f.mu.Unlock()
	if own {
		return
	}
	if fg, err := unix.IoctlGetInt(f.fd, unix.TIOCGPGRP); err == nil && fg == f.orig && syscall.Getpgrp() == f.orig {
		f.take()
	}
}

// parentIsGoCommand reports whether the parent process is the go command
// (`go run`).
func parentIsGoCommand() bool {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(os.Getppid()) + "/exe")
	if err != nil {
		return false
	}
	return filepath.Base(exe) == "go"
}

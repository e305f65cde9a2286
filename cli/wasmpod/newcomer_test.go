package main

// The README's main job as a newcomer runs it: `go run ./cli/wasmpod run
// ...` in a terminal, stopped with Ctrl-C.

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// jobShellEnv makes the test binary a job-control shell (see jobShell).
const jobShellEnv = "WASMPOD_TEST_JOBSHELL"

func init() {
	if args := os.Getenv(jobShellEnv); args != "" {
		os.Exit(jobShell(strings.Split(args, "\x1f")))
	}
}

// jobShell runs args as an interactive shell runs a job: in a process
// group of its own, made the terminal's foreground group (the terminal is
// standard input). When the job ends it prints the job's exit status and
// which process group then holds the terminal:
// "JOBSHELL exit=N fg=PGID job=PGID".
func jobShell(args []string) int {
	os.Unsetenv(jobShellEnv)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Foreground: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		fmt.Println("JOBSHELL start:", err)
		return 1
	}
	fmt.Printf("JOBSHELL started job=%d\n", cmd.Process.Pid)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		fmt.Println("JOBSHELL wait:", err)
		return 1
	}
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil {
		fmt.Println("JOBSHELL tcgetpgrp:", err)
		return 1
	}
	fmt.Printf("JOBSHELL exit=%d fg=%d job=%d\n", code, fg, cmd.Process.Pid)
	return 0
}

// openPTY opens a pseudo-terminal pair: the master, and the slave end.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestCtrlCUnderGoRun runs the README's way, `go run ./cli/wasmpod run
// MANIFEST`, as the foreground job of a terminal, and types Ctrl-C once the
// pod works. The terminal sends SIGINT to its whole foreground group: the
// go command used to get it too, and exited 1 whatever wasmpod returned.
// Now `go run` exits 0, and the terminal is back with the job's group.
func TestCtrlCUnderGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("go run builds wasmpod")
	}
	master, slave := openPTY(t)
	cmd := exec.Command(os.Args[0])
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), jobShellEnv+"="+strings.Join([]string{"go", "run", "./cli/wasmpod", "run", "--cache-dir", cacheDir, "wasm-examples/graceful/pod.yaml"}, "\x1f"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	out := &syncBuffer{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			out.Write(b[:n])
			if err != nil {
				return // EIO once every slave fd is closed
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			if fg, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPGRP); err == nil && fg > 1 {
				syscall.Kill(-fg, syscall.SIGKILL) // the foreground group: wasmpod
			}
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the shell
			if m := regexp.MustCompile(`job=(\d+)`).FindStringSubmatch(out.String()); m != nil {
				pgid, _ := strconv.Atoi(m[1])
				syscall.Kill(-pgid, syscall.SIGKILL) // go run
			}
			<-done
		}
	})

	waitOut := func(re string, timeout time.Duration) []string {
		t.Helper()
		rx := regexp.MustCompile(re)
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			if m := rx.FindStringSubmatch(out.String()); m != nil {
				return m
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%q did not appear on the terminal within %s:\n%s", re, timeout, out)
		return nil
	}
	// A cold start builds wasmpod, builds the image and compiles it.
	waitOut(`\[graceful/graceful\] working`, 4*time.Minute)
	job, _ := strconv.Atoi(waitOut(`JOBSHELL started job=(\d+)`, time.Second)[1])
	if fg, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPGRP); err != nil || fg == job {
		t.Errorf("while wasmpod runs, the terminal's foreground group is %d (%v), go run's (%d): Ctrl-C would reach the go command", fg, err, job)
	}
	if _, err := master.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	m := waitOut(`JOBSHELL exit=(\d+) fg=(\d+) job=(\d+)`, time.Minute)
	if m[1] != "0" {
		t.Errorf("go run exited %s after Ctrl-C, want 0:\n%s", m[1], out)
	}
	if m[2] != m[3] {
		t.Errorf("after go run exited, the terminal's foreground group is %s, not the job's (%s):\n%s", m[2], m[3], out)
	}
	for _, w := range []string{"terminating pods gracefully", "[graceful/graceful] clean exit"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("terminal output lacks %q:\n%s", w, out)
		}
	}
}

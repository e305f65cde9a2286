package main

// The README's main job as a newcomer runs it: `go run ./cli/wasmpod run
// ...` in a terminal, stopped with Ctrl-C.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// terminal is a session on a pseudo-terminal: its leader's standard
// streams are the terminal, which is its controlling terminal.
type terminal struct {
	t      *testing.T
	master *os.File
	out    *syncBuffer // everything the terminal showed
	done   chan error
}

// startTerminal starts cmd (from the repository root) as the session
// leader of a new pseudo-terminal. Cleanup kills what is left of the
// session: the foreground group, the leader, and the groups named by
// "job=PGID" in the output.
func startTerminal(t *testing.T, cmd *exec.Cmd) *terminal {
	t.Helper()
	master, slave := openPTY(t)
	cmd.Dir = repoRoot
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	term := &terminal{t: t, master: master, out: &syncBuffer{}, done: make(chan error, 1)}
	go func() { term.done <- cmd.Wait() }()
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			term.out.Write(b[:n])
			if err != nil {
				return // EIO once every slave fd is closed
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-term.done:
		default:
			if fg, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPGRP); err == nil && fg > 1 {
				syscall.Kill(-fg, syscall.SIGKILL) // the foreground group: wasmpod
			}
			for _, m := range regexp.MustCompile(`job=(\d+)`).FindAllStringSubmatch(term.out.String(), -1) {
				if pgid, _ := strconv.Atoi(m[1]); pgid > 1 {
					syscall.Kill(-pgid, syscall.SIGKILL) // go run
				}
			}
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the shell
			<-term.done
		}
	})
	return term
}

// waitOut waits until re matches the terminal's output and returns the
// submatches of its last match.
func (term *terminal) waitOut(re string, timeout time.Duration) []string {
	term.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := rx.FindAllStringSubmatch(term.out.String(), -1); m != nil {
			return m[len(m)-1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	term.t.Fatalf("%q did not appear on the terminal within %s:\n%s", re, timeout, term.out)
	return nil
}

// count is how many times re matches the terminal's output.
func (term *terminal) count(re string) int {
	return len(regexp.MustCompile(re).FindAllStringIndex(term.out.String(), -1))
}

// typeIn types s into the terminal.
func (term *terminal) typeIn(s string) {
	term.t.Helper()
	if _, err := term.master.Write([]byte(s)); err != nil {
		term.t.Fatal(err)
	}
}

// goRunGraceful is the README's way to run an example, on the graceful one
// (it runs until Ctrl-C and then exits 0), with the tests' cache.
var goRunGraceful = []string{"go", "run", "./cli/wasmpod", "run", "--cache-dir", "CACHE", "wasm-examples/graceful/pod.yaml"}

func goRunGracefulArgs() []string {
	args := append([]string(nil), goRunGraceful...)
	args[5] = cacheDir
	return args
}

// A cold start builds wasmpod, builds the image and compiles it.
const coldStart = 5 * time.Minute

// TestCtrlCUnderGoRun runs the README's way, `go run ./cli/wasmpod run
// MANIFEST`, as the foreground job of a terminal, and types Ctrl-C once the
// pod works. The terminal sends SIGINT to its whole foreground group: the
// go command used to get it too, and exited 1 whatever wasmpod returned.
// Now `go run` exits 0, and the terminal is back with the job's group.
func TestCtrlCUnderGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("go run builds wasmpod")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), jobShellEnv+"="+strings.Join(goRunGracefulArgs(), "\x1f"))
	term := startTerminal(t, cmd)
	term.waitOut(`\[graceful/graceful\] working`, coldStart)
	job, _ := strconv.Atoi(term.waitOut(`JOBSHELL started job=(\d+)`, time.Second)[1])
	if fg, err := unix.IoctlGetInt(int(term.master.Fd()), unix.TIOCGPGRP); err != nil || fg == job {
		t.Errorf("while wasmpod runs, the terminal's foreground group is %d (%v), go run's (%d): Ctrl-C would reach the go command", fg, err, job)
	}
	term.typeIn("\x03") // Ctrl-C
	m := term.waitOut(`JOBSHELL exit=(\d+) fg=(\d+) job=(\d+)`, time.Minute)
	if m[1] != "0" {
		t.Errorf("go run exited %s after Ctrl-C, want 0:\n%s", m[1], term.out)
	}
	if m[2] != m[3] {
		t.Errorf("after go run exited, the terminal's foreground group is %s, not the job's (%s):\n%s", m[2], m[3], term.out)
	}
	for _, w := range []string{"terminating pods gracefully", "[graceful/graceful] clean exit"} {
		if !strings.Contains(term.out.String(), w) {
			t.Errorf("terminal output lacks %q:\n%s", w, term.out)
		}
	}
}

// TestCtrlZUnderGoRun: in an interactive bash, Ctrl-Z stops the `go run`
// job (wasmpod, in a group of its own, stops the job's group with itself,
// so the shell sees its job stopped rather than waiting forever on a go
// command that never stopped), fg resumes it with the terminal, and Ctrl-C
// still stops it with exit status 0.
func TestCtrlZUnderGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("go run builds wasmpod")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	cmd := exec.Command(bash, "--norc", "--noprofile", "-i")
	// An interactive bash writes its history on exit: into the test's
	// own directory, never the user's HOME.
	cmd.Env = append(os.Environ(), "PS1=$ ", "TERM=dumb", "HISTFILE="+filepath.Join(t.TempDir(), "bash_history"))
	term := startTerminal(t, cmd)
	term.typeIn(strings.Join(goRunGracefulArgs(), " ") + " & echo job=$!; fg\n")
	term.waitOut(`\[graceful/graceful\] working`, coldStart)
	term.typeIn("\x1a") // Ctrl-Z
	term.waitOut(`Stopped\s+.*go run`, time.Minute)
	// Stopped: no more "working" lines.
	n := term.count(`\[graceful/graceful\] working`)
	time.Sleep(2 * time.Second)
	if m := term.count(`\[graceful/graceful\] working`); m != n {
		t.Errorf("%d more lines of the pod after Ctrl-Z stopped the job:\n%s", m-n, term.out)
	}
	term.typeIn("fg\n")
	for deadline := time.Now().Add(time.Minute); term.count(`\[graceful/graceful\] working`) == n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pod did not work again within a minute of fg:\n%s", term.out)
		}
	}
	term.typeIn("\x03") // Ctrl-C
	term.waitOut(`\[graceful/graceful\] clean exit`, time.Minute)
	term.typeIn("echo EXIT=$?\n")
	if m := term.waitOut(`EXIT=(\d+)`, time.Minute); m[1] != "0" {
		t.Errorf("go run exited %s after Ctrl-Z, fg and Ctrl-C, want 0:\n%s", m[1], term.out)
	}
	term.typeIn("exit\n")
}

// TestRunInterruptedBeforeStart: Ctrl-C while a first run builds and
// compiles its images (which takes a while) stops `run` at once with
// 128+SIGINT and a message, no pod started (SIGINT killed it outright,
// before its terminal was given back).
func TestRunInterruptedBeforeStart(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binPath, "run", "--cache-dir", t.TempDir(), "wasm-examples/hello/pod.yaml")
	cmd.Dir = repoRoot
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	// "Building" is printed once run handles signals, and the (cold) build
	// and compile that follow take seconds.
	for deadline := time.Now().Add(runTimeout); !strings.Contains(stderr.String(), "Building go://."); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no build within %s:\n%s", runTimeout, stderr)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
		done <- err
	case <-time.After(time.Minute):
		t.Fatalf("run did not stop within a minute of SIGINT:\n%s", stderr)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("run ended with %v after SIGINT while preparing, want exit status 130:\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "interrupt: stopped before any pod started") {
		t.Errorf("stderr does not say why it stopped:\n%s", stderr)
	}
	if strings.Contains(stderr.String(), "pod/hello created") || stdout.String() != "" {
		t.Errorf("a pod started:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

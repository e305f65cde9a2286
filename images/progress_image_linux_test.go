package images

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair: the program writes to tty, the
// test reads what a terminal would show from ptm.
func openPTY(t *testing.T) (ptm, tty *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no pseudo-terminals:", err)
	}
	t.Cleanup(func() { ptm.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptm.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skip("unlockpt:", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptm.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skip("ptsname:", e)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skip("open pts:", err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptm, tty
}

// TestTickerTerminal: on a terminal, Ticker rewrites one line in place
// and erases it at stop, printing no newline.
func TestTickerTerminal(t *testing.T) {
	fastTicks(t, 10*time.Millisecond)
	ptm, tty := openPTY(t)
	if !isTerminal(tty) {
		t.Fatal("a pts is not a terminal")
	}
	stop := Ticker(tty, "Compiling go://./hello")
	time.Sleep(80 * time.Millisecond)
	stop()
	tty.Write([]byte("END\n"))
	var got strings.Builder
	buf := make([]byte, 4096)
	// Until the whole END line is in: a read can end between "END" and its
	// line ending (the terminal turns \n into \r\n).
	for !strings.HasSuffix(got.String(), "END\r\n") && !strings.HasSuffix(got.String(), "END\n") {
		n, err := ptm.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(buf[:n])
	}
	out := strings.TrimSuffix(strings.TrimSuffix(got.String(), "END\r\n"), "END\n")
	frames := strings.Split(out, "\r\x1b[K")
	if len(frames) < 3 || frames[0] != "" || frames[len(frames)-1] != "" {
		t.Fatalf("terminal output %q: want frames each starting with CR and erase-line, ending erased", out)
	}
	for _, f := range frames[1 : len(frames)-1] {
		if !strings.HasPrefix(f, "Compiling go://./hello... ") || strings.Contains(f, "\n") {
			t.Fatalf("frame %q in %q", f, out)
		}
	}
}

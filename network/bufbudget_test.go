package network

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
)

func heapInuse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// fill writes into s until the window closes; it returns the bytes taken.
func fill(t testing.TB, s Socket, chunk []byte) int {
	t.Helper()
	total := 0
	for {
		k, err := s.Write(chunk)
		total += k
		if errors.Is(err, syscall.EAGAIN) {
			return total
		}
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}

// TestSocketBuffersBoundedByPodBudget is the first round's repro: a pod
// opens 500 connection pairs and writes into both ends of each without
// reading. The host memory its buffers take stays within the pod's socket
// buffer budget plus each direction's guaranteed minimum, writes see EAGAIN
// rather than growing the heap, a connection whose peer reads makes
// progress again, and closing gives every byte back.
func TestSocketBuffersBoundedByPodBudget(t *testing.T) {
	const (
		pairs  = 500
		budget = 1 << 20
	)
	n := newNet(t, Config{})
	pn, err := n.AddPod(PodInfo{Namespace: "default", Name: "greedy", IP: ipA, SocketBuffers: budget})
	if err != nil {
		t.Fatal(err)
	}
	l := listenBacklog(t, pn, ap(ipA, 80), 4096)
	before := heapInuse()
	var socks []Socket
	chunk := make([]byte, 64<<10)
	written := 0
	for range pairs {
		c := dial(t, pn, ap(ipA, 80))
		s := accept(t, l)
		socks = append(socks, c, s)
		written += fill(t, c, chunk)
		written += fill(t, s, chunk)
	}
	grown := heapInuse() - before
	guaranteed := 2 * pairs * minPipeChunk
	if written > budget+guaranteed {
		t.Errorf("the pod's sockets took %d bytes of unread data, budget %d + %d guaranteed", written, budget, guaranteed)
	}
	if written < budget {
		t.Errorf("the pod's sockets took only %d bytes, less than the budget %d", written, budget)
	}
	// Socket structures cost a little too: allow 4 KiB a socket for them.
	if limit := int64(budget + guaranteed + 2*pairs*4<<10); grown > limit {
		t.Errorf("heap grew by %d bytes for %d unread connection pairs; bound %d", grown, pairs, limit)
	}
	t.Logf("%d pairs: %d bytes written, heap +%d bytes (budget %d)", pairs, written, grown, budget)

	// A reader makes room: its writer goes on.
	buf := make([]byte, 1<<20)
	r, w := socks[1], socks[0]
	if k, err := r.Read(buf); err != nil || k == 0 {
		t.Fatalf("read: %d, %v", k, err)
	}
	if ev, _ := w.Poll(); ev&Writable == 0 {
		t.Fatal("the writer is not writable after its peer read")
	}
	if k := fill(t, w, chunk); k == 0 {
		t.Fatal("the writer could not write after its peer read")
	}
	for _, s := range socks {
		s.Close()
	}
	if used := pn.(*pod).bufs.used.Load(); used != 0 {
		t.Errorf("budget still holds %d bytes after every socket closed", used)
	}
}

// TestDatagramQueueChargedToPod: datagrams queued for a pod count against
// its socket buffer budget; past it they are dropped, and reading them gives
// the room back.
func TestDatagramQueueChargedToPod(t *testing.T) {
	n := newNet(t, Config{})
	recv, err := n.AddPod(PodInfo{Namespace: "default", Name: "r", IP: ipA, SocketBuffers: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	send := addPod(t, n, "default", "s", ipB)
	var rs []Socket
	for port := uint16(5000); port < 5004; port++ {
		s := mustSock(t, recv, Datagram)
		if err := s.Bind(ap(ipA, port)); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, s)
	}
	tx := mustSock(t, send, Datagram)
	msg := make([]byte, 1000)
	for i := range 40 {
		if _, err := tx.SendTo(msg, ap(ipA, 5000+uint16(i%4))); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	buf := make([]byte, 2000)
	for _, s := range rs {
		for {
			_, _, err := s.RecvFrom(buf, false)
			if err != nil {
				wantErr(t, "recv", err, syscall.EAGAIN)
				break
			}
			got++
		}
	}
	if got != 8 {
		t.Errorf("%d datagrams of 1000 bytes queued under an 8 KiB budget, want 8", got)
	}
	if _, err := tx.SendTo(msg, ap(ipA, 5000)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rs[0].RecvFrom(buf, false); err != nil {
		t.Errorf("after the queue drained a datagram was not delivered: %v", err)
	}
}

func TestSocketBuffersFor(t *testing.T) {
	for _, c := range []struct{ mem, want int64 }{
		{0, 0},
		{-1, 0},
		{1 << 20, 1 << 20},
		{32 << 20, 8 << 20},
		{1 << 40, DefaultPodSocketBuffers},
	} {
		if got := SocketBuffersFor(c.mem); got != c.want {
			t.Errorf("SocketBuffersFor(%d) = %d, want %d", c.mem, got, c.want)
		}
	}
}

// TestSocketBuffersTakenFromPodMemory: the bytes socket buffers hold beyond
// the guaranteed minimum also come out of the pod's memory budget; when
// that refuses, the writer sees a closed window (not writable: no busy
// poll) until the reader drains, and closing gives every byte back.
func TestSocketBuffersTakenFromPodMemory(t *testing.T) {
	mem := &countBudget{limit: 256 << 10}
	n := newNet(t, Config{})
	pn, err := n.AddPod(PodInfo{Namespace: "default", Name: "m", IP: ipA, SocketBuffers: 64 << 20, Memory: mem})
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, pn, ap(ipA, 80))
	chunk := make([]byte, 64<<10)
	var socks []Socket
	written := 0
	for range 8 {
		c := dial(t, pn, ap(ipA, 80))
		s := accept(t, l)
		socks = append(socks, c, s)
		written += fill(t, c, chunk)
		if ev, _ := c.Poll(); ev&Writable != 0 {
			t.Fatal("a writer whose window is closed polls writable")
		}
	}
	if used, peak := mem.get(); used > mem.limit || peak > mem.limit || used == 0 {
		t.Errorf("pod memory used %d peak %d, limit %d", used, peak, mem.limit)
	}
	if max := int(mem.limit) + 8*minPipeChunk; written > max {
		t.Errorf("wrote %d unread bytes, bound %d", written, max)
	}
	buf := make([]byte, 1<<20)
	if k, err := socks[1].Read(buf); err != nil || k == 0 {
		t.Fatalf("read: %d, %v", k, err)
	}
	if ev, _ := socks[0].Poll(); ev&Writable == 0 {
		t.Fatal("not writable after the reader drained")
	}
	for _, s := range socks {
		s.Close()
	}
	if used, _ := mem.get(); used != 0 {
		t.Errorf("pod memory still holds %d bytes after every socket closed", used)
	}
}

// TestPipeGrowsToTheWrite: a write into a stream buffer that already holds
// data grows it to take the whole write at once (within the size), rather
// than short of the bytes already buffered.
func TestPipeGrowsToTheWrite(t *testing.T) {
	p := newPipe(256<<10, nil)
	if n, err := p.write([]byte{1}); n != 1 || err != nil {
		t.Fatalf("first write: %d, %v", n, err)
	}
	big := make([]byte, 100<<10)
	if n, err := p.write(big); n != len(big) || err != nil {
		t.Fatalf("write of %d bytes into a buffer holding 1 (cap %d): took %d, %v", len(big), len(p.buf), n, err)
	}
}

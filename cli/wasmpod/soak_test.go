package main

// The soak test: `wasmpod serve` with a bbolt data dir under mixed churn
// (pods of every example created, deleted, force-killed and re-created,
// ConfigMaps, log floods and log reads, half-open TCP clients), with
// `kill -9` of serve and a restart every few minutes. It checks that no
// acknowledged write is lost or undone across the kills, and that serve's
// RSS, fds and threads (the proxy for goroutines: serve exposes no
// goroutine count) plateau.
//
// -short skips it. WASMPOD_SOAK_DURATION sets its length (default 90s, with
// a kill every 30 s; `just soak` runs 30m, a kill every 3 min).

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/proctest"
)

const (
	soakMaxPods     = 10 // live pods the churn keeps at most
	soakSlowClients = 48 // half-open TCP connections held open
)

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("WASMPOD_SOAK_DURATION")
	if v == "" {
		return 90 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("WASMPOD_SOAK_DURATION=%q: want a positive duration such as 90s or 30m", v)
	}
	return d
}

// ledger is what the API acknowledged. Keys are "pod/NAME" or "cm/NAME".
type ledger struct {
	mu      sync.Mutex
	live    map[string]bool // create acknowledged, no delete sent since
	deleted map[string]bool // delete acknowledged (and no create since)
	kind    map[string]string
	acked   int // acknowledged writes
}

func (l *ledger) created(key, kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live[key] = true
	delete(l.deleted, key)
	l.kind[key] = kind
	l.acked++
}

// creating is called before a create is sent.
func (l *ledger) creating(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.deleted, key)
}

// deleting is called before a delete is sent: from then on the object may
// or may not exist.
func (l *ledger) deleting(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.live, key)
}

func (l *ledger) deleteAcked(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deleted[key] = true
	l.acked++
}

func (l *ledger) pick(prefix string, r *mathrand.Rand) (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys []string
	for k := range l.live {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", ""
	}
	sort.Strings(keys)
	k := keys[r.IntN(len(keys))]
	return k, l.kind[k]
}

func (l *ledger) count(prefix, kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k := range l.live {
		if strings.HasPrefix(k, prefix) && (kind == "" || l.kind[k] == kind) {
			n++
		}
	}
	return n
}

// sample is one reading of serve's /proc entries.
type sample struct {
	at          time.Duration // since the soak began
	incarnation int
	rssKB, fds  int
	threads     int
}

// peak is the maximum of each reading over ss.
func peak(ss []sample) (p sample) {
	for _, s := range ss {
		p.rssKB = max(p.rssKB, s.rssKB)
		p.fds = max(p.fds, s.fds)
		p.threads = max(p.threads, s.threads)
	}
	return p
}

// checkPlateau fails when late readings grew well past early ones.
func checkPlateau(t *testing.T, when string, early, late sample) {
	t.Helper()
	if late.rssKB > 2*early.rssKB+128<<10 {
		t.Errorf("%s: RSS grew from %d KiB to %d KiB", when, early.rssKB, late.rssKB)
	}
	if late.fds > 2*early.fds+64 {
		t.Errorf("%s: open fds grew from %d to %d", when, early.fds, late.fds)
	}
	if late.threads > 2*early.threads+16 {
		t.Errorf("%s: threads grew from %d to %d", when, early.threads, late.threads)
	}
}

// soakPod is a pod of one of the churn's kinds.
func soakPod(name, kind, repo string) *corev1.Pod {
	grace := int64(2)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"soak": kind},
			Annotations: map[string]string{"wasmpod.io/manifest-dir": repo}},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace},
	}
	img := func(dir string) string { return "go://./wasm-examples/" + dir }
	c := corev1.Container{Name: kind, Image: img(kind)}
	switch kind {
	case "hello":
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		c.Args = []string{"soak"}
	case "crash":
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
	case "flood":
		// An init container plants a sparse 4 MiB file; the container
		// prints it four times (16 MiB of log per run) and is restarted.
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		mount := []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		p.Spec.InitContainers = []corev1.Container{{Name: "plant", Image: img("testguests/hostile"), Args: []string{"truncate", "/data/big", "4194304"}, VolumeMounts: mount}}
		c = corev1.Container{Name: "flood", Image: img("toolbox"), Args: []string{"cat", "/data/big", "/data/big", "/data/big", "/data/big"}, VolumeMounts: mount}
	}
	p.Spec.Containers = []corev1.Container{c}
	return p
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	dur := soakDuration(t)
	killEvery := min(max(dur/3, 30*time.Second), 3*time.Minute)
	warmup := min(killEvery/3, 20*time.Second)
	t.Logf("soak for %v, kill -9 of serve every %v", dur, killEvery)

	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tok := make([]byte, 24)
	rand.Read(tok)
	args := []string{"--listen", addr, "--token", hex.EncodeToString(tok), "--deny-egress"}

	var (
		cur         atomic.Pointer[server]
		incarnation atomic.Int32
		started     atomic.Int64 // UnixNano of the current serve's start
		paused      sync.RWMutex // the churn holds it shared, a check exclusively
		restarting  sync.RWMutex // the sampler holds it shared, a kill and restart exclusively
		led         = &ledger{live: map[string]bool{}, deleted: map[string]bool{}, kind: map[string]string{}}
		stats       struct{ creates, deletes, kills, logReads, failures, slowReopened atomic.Int64 }
	)
	begin := time.Now()
	up := func() {
		s := serve(t, dir, args...)
		cur.Store(s)
		started.Store(time.Now().UnixNano())
		incarnation.Add(1)
	}
	up()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()

	// check compares the store with the ledger; the churn is paused.
	check := func(when string) {
		s := cur.Load()
		led.mu.Lock()
		defer led.mu.Unlock()
		pods, err := s.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: list pods: %v", when, err)
		}
		cms, err := s.client.CoreV1().ConfigMaps("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: list configmaps: %v", when, err)
		}
		have := map[string]*metav1.ObjectMeta{}
		for i := range pods.Items {
			have["pod/"+pods.Items[i].Name] = &pods.Items[i].ObjectMeta
		}
		for i := range cms.Items {
			have["cm/"+cms.Items[i].Name] = &cms.Items[i].ObjectMeta
		}
		lost := 0
		for k := range led.live {
			if have[k] == nil {
				lost++
				if lost <= 10 {
					t.Errorf("%s: %s was acknowledged as created and never deleted, but is gone", when, k)
				}
			}
		}
		undone := 0
		for k := range led.deleted {
			if m := have[k]; m != nil && (strings.HasPrefix(k, "cm/") || m.DeletionTimestamp == nil) {
				undone++
				if undone <= 10 {
					t.Errorf("%s: %s was acknowledged as deleted, but is back", when, k)
				}
			}
		}
		t.Logf("%s: %d acknowledged writes; %d live objects in the ledger, all present; %d pods, %d configmaps in the store", when, led.acked, len(led.live), len(pods.Items), len(cms.Items))
		if lost > 0 || undone > 0 {
			t.FailNow()
		}
	}

	// The churn.
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := mathrand.New(mathrand.NewPCG(1, uint64(time.Now().UnixNano())))
		seq := 0
		kinds := []string{"hello", "hello", "graceful", "graceful", "crash", "toolbox", "toolbox", "flood", "spin"}
		for ctx.Err() == nil {
			time.Sleep(time.Duration(20+r.IntN(60)) * time.Millisecond)
			paused.RLock()
			s := cur.Load()
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			seq++
			var err error
			switch op := r.IntN(100); {
			case op < 35: // a ConfigMap
				name := fmt.Sprintf("cm-%d", seq)
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": strings.Repeat("v", r.IntN(4096))}}
				if _, err = s.client.CoreV1().ConfigMaps("default").Create(cctx, cm, metav1.CreateOptions{}); err == nil {
					led.created("cm/"+name, "cm")
					stats.creates.Add(1)
				}
			case op < 55: // a pod
				kind := kinds[r.IntN(len(kinds))]
				if led.count("pod/", "") >= soakMaxPods || (kind == "spin" || kind == "flood") && led.count("pod/", kind) >= 1 {
					break
				}
				name := fmt.Sprintf("%s-%d", kind, seq)
				if _, err = s.client.CoreV1().Pods("default").Create(cctx, soakPod(name, kind, repoRoot), metav1.CreateOptions{}); err == nil {
					led.created("pod/"+name, kind)
					stats.creates.Add(1)
				}
			case op < 70: // delete a ConfigMap
				key, _ := led.pick("cm/", r)
				if key == "" {
					break
				}
				led.deleting(key)
				err = s.client.CoreV1().ConfigMaps("default").Delete(cctx, strings.TrimPrefix(key, "cm/"), metav1.DeleteOptions{})
				if err == nil || apierrors.IsNotFound(err) {
					led.deleteAcked(key)
					stats.deletes.Add(1)
					err = nil
				}
			case op < 85: // delete a pod: gracefully, or kill it (grace 0)
				key, _ := led.pick("pod/", r)
				if key == "" {
					break
				}
				opts := metav1.DeleteOptions{}
				if r.IntN(2) == 0 {
					zero := int64(0)
					opts.GracePeriodSeconds = &zero
				}
				led.deleting(key)
				err = s.client.CoreV1().Pods("default").Delete(cctx, strings.TrimPrefix(key, "pod/"), opts)
				if err == nil || apierrors.IsNotFound(err) {
					led.deleteAcked(key)
					stats.deletes.Add(1)
					err = nil
				}
			case op < 90: // restart a pod: force-delete it, re-create it under its name once it is gone
				key, kind := led.pick("pod/", r)
				if key == "" {
					break
				}
				name := strings.TrimPrefix(key, "pod/")
				zero := int64(0)
				led.deleting(key)
				if err = s.client.CoreV1().Pods("default").Delete(cctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
					break
				}
				led.deleteAcked(key)
				for cctx.Err() == nil {
					if _, err = s.client.CoreV1().Pods("default").Get(cctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				led.creating(key)
				if _, err = s.client.CoreV1().Pods("default").Create(cctx, soakPod(name, kind, repoRoot), metav1.CreateOptions{}); err == nil {
					led.created(key, kind)
					stats.creates.Add(1)
				}
			default: // read logs: a tail, and a bounded read
				key, _ := led.pick("pod/", r)
				if key == "" {
					break
				}
				tail, limit := int64(5), int64(1<<20)
				_, err = s.client.CoreV1().Pods("default").GetLogs(strings.TrimPrefix(key, "pod/"), &corev1.PodLogOptions{TailLines: &tail, LimitBytes: &limit}).DoRaw(cctx)
				stats.logReads.Add(1)
				if err != nil && (apierrors.IsBadRequest(err) || apierrors.IsNotFound(err)) {
					err = nil // not started yet, or gone
				}
			}
			cancel()
			paused.RUnlock()
			if err != nil {
				stats.failures.Add(1)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()

	// Slow clients: half-open HTTP requests to the TCP port, kept open.
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for ctx.Err() == nil {
			// Drop the ones the server closed.
			kept := conns[:0]
			for _, c := range conns {
				c.SetReadDeadline(time.Now().Add(time.Millisecond))
				var b [1]byte
				if _, err := c.Read(b[:]); err != nil && !os.IsTimeout(err) {
					c.Close()
					stats.slowReopened.Add(1)
					continue
				}
				kept = append(kept, c)
			}
			conns = kept
			for len(conns) < soakSlowClients {
				raw, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					break
				}
				// --listen is HTTPS: a slow client completes the TLS
				// handshake, then trickles its headers.
				pool := x509.NewCertPool()
				caPEM, _ := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
				pool.AppendCertsFromPEM(caPEM)
				c := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
				hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
				err = c.HandshakeContext(hctx)
				hcancel()
				if err != nil {
					c.Close()
					break
				}
				fmt.Fprintf(c, "GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: %s\r\nX-Slow: ", addr)
				conns = append(conns, c)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()

	// The sampler: serve's RSS, fds and threads, and a liveness probe.
	var (
		smu     sync.Mutex
		samples []sample
		slowest time.Duration
	)
	interval := min(max(dur/60, time.Second), 10*time.Second)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
			restarting.RLock()
			s := cur.Load()
			age := time.Since(time.Unix(0, started.Load()))
			u, err := proctest.Read(s.cmd.Process.Pid)
			if err == nil && age >= warmup {
				smu.Lock()
				samples = append(samples, sample{at: time.Since(begin), incarnation: int(incarnation.Load()), rssKB: int(u.RSS >> 10), fds: u.FDs, threads: u.Threads})
				smu.Unlock()
			}
			t0 := time.Now()
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err = s.client.CoreV1().Namespaces().Get(pctx, "default", metav1.GetOptions{})
			cancel()
			if took := time.Since(t0); err == nil {
				smu.Lock()
				slowest = max(slowest, took)
				smu.Unlock()
			} else if ctx.Err() == nil {
				t.Errorf("serve (pid %d) did not answer a GET within 30s: %v", s.cmd.Process.Pid, err)
			}
			restarting.RUnlock()
		}
	}()

	// kill -9 and restart on schedule, checking the ledger each time.
	deadline := begin.Add(dur)
	for next := begin.Add(killEvery); next.Before(deadline); next = next.Add(killEvery) {
		time.Sleep(time.Until(next))
		// The kill lands in the middle of the churn's calls.
		restarting.Lock()
		s := cur.Load()
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		s.wait(time.Minute)
		stats.kills.Add(1)
		up()
		restarting.Unlock()
		paused.Lock()
		check(fmt.Sprintf("after kill -9 #%d", stats.kills.Load()))
		paused.Unlock()
	}
	time.Sleep(time.Until(deadline))
	stop()
	wg.Wait()
	check("at the end")
	// The churn ran real pods: some are running or done.
	pods, err := cur.Load().client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	phases := map[corev1.PodPhase]int{}
	for _, p := range pods.Items {
		phases[p.Status.Phase]++
	}
	t.Logf("pods at the end by phase: %v", phases)
	if len(pods.Items) >= 3 && phases[corev1.PodRunning]+phases[corev1.PodSucceeded] == 0 {
		t.Errorf("no pod is Running or Succeeded at the end: %v", phases)
	}

	// Plateau: late samples against early ones, generously bounded, over
	// the whole run and within each serve (a leak that a kill -9 resets
	// would not show across the run).
	smu.Lock()
	defer smu.Unlock()
	var early, late []sample
	byServe := map[int][]sample{}
	for _, s := range samples {
		switch {
		case s.at < dur*2/5:
			early = append(early, s)
		case s.at >= dur*3/5:
			late = append(late, s)
		}
		byServe[s.incarnation] = append(byServe[s.incarnation], s)
	}
	first, last := peak(early), peak(late)
	t.Logf("serve, early vs late (max): RSS %d vs %d KiB (%.2fx), fds %d vs %d, threads %d vs %d; %d samples; slowest GET %v",
		first.rssKB, last.rssKB, float64(last.rssKB)/float64(max(first.rssKB, 1)), first.fds, last.fds, first.threads, last.threads, len(samples), slowest)
	t.Logf("churn: %d creates, %d deletes, %d log reads, %d failed calls (most while serve was down), %d kills; %d half-open connections closed by serve",
		stats.creates.Load(), stats.deletes.Load(), stats.logReads.Load(), stats.failures.Load(), stats.kills.Load(), stats.slowReopened.Load())
	if first.rssKB == 0 || last.rssKB == 0 {
		t.Fatalf("too few samples to judge a plateau: %d (raise WASMPOD_SOAK_DURATION)", len(samples))
	}
	checkPlateau(t, "over the run", first, last)
	judged := 0
	for inc, ss := range byServe {
		if len(ss) < 5 {
			continue // killed too soon after its warm-up to judge
		}
		judged++
		n := len(ss) * 2 / 5
		checkPlateau(t, fmt.Sprintf("within serve #%d", inc), peak(ss[:n]), peak(ss[len(ss)-n:]))
	}
	if judged == 0 {
		t.Errorf("no serve lived long enough to judge its plateau (%d samples)", len(samples))
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "nodes", "node-1", "pods")); err == nil {
		t.Logf("pod directories left in the data dir: %d (pods in the store: %d)", len(ents), len(pods.Items))
	}
}

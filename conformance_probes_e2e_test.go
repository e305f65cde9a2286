package wasmpod_test

// Conformance: upstream test/e2e/common/node container_probe.go and
// lifecycle_hook.go (docs/conformance.md). One cluster, parallel subtests;
// each names the upstream test it follows. Upstream's initialDelaySeconds
// (15 s) and 4-minute observation windows are scaled down unless
// WASMPOD_CONFORMANCE_FULL is set: the behaviours (restart or not, Ready
// or not) do not depend on their length.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wasmpod/wasmpod"
)

func TestConformanceProbesAndHooks(t *testing.T) {
	t.Parallel()
	cc := newConformanceCluster(t, func(c *wasmpod.Config) { c.AllowHostPath = true })
	g := newGroup(t)
	defer g.Wait()
	ctx := context.Background()
	image := probeGuest(t)
	running := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }
	secs := func(upstream, short time.Duration) int32 {
		return int32(conformanceScale(upstream, short) / time.Second)
	}
	observe := conformanceScale(4*time.Minute, 6*time.Second) // upstream's defaultObservationTimeout
	initialDelay := secs(15*time.Second, time.Second)         // upstream's probeTestInitialDelaySeconds
	execProbe := func(cmd ...string) corev1.ProbeHandler {
		return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}
	}
	// busyBoxPodSpec as upstream's: busybox running cmd, restartPolicy Always.
	busyBoxPodSpec := func(name string, readiness, liveness *corev1.Probe, cmd ...string) *corev1.Pod {
		p := busyboxPod(name, cmd...)
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		p.Spec.Containers[0].ReadinessProbe, p.Spec.Containers[0].LivenessProbe = readiness, liveness
		return p
	}
	webserver := func(name string, edit func(c *corev1.Container)) *corev1.Pod {
		p := probePod(name, image, edit)
		p.Spec.TerminationGracePeriodSeconds = nil
		one := int64(1)
		p.Spec.TerminationGracePeriodSeconds = &one
		return p
	}

	// [sig-node] Probing container with readiness probe should not be
	// ready before initial delay and never restart [NodeConformance]
	// [Conformance]
	g.Run("readiness initial delay", func(t *testing.T) {
		delay := secs(15*time.Second, 3*time.Second)
		p := webserver("test-webserver-delay", func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: httpGet("/healthz"), InitialDelaySeconds: delay}
		})
		cc.create(t, p)
		got := cc.wait(t, p.Name, "Ready", 2*time.Minute, func(p *corev1.Pod) bool { return podReady(p) == corev1.ConditionTrue })
		readyAt := conditionOf(got, corev1.PodReady).LastTransitionTime.Time
		run := got.Status.ContainerStatuses[0].State.Running
		if run == nil {
			t.Fatalf("not running: %s", fmtStatus(got))
		}
		if d := readyAt.Sub(run.StartedAt.Time); d < time.Duration(delay)*time.Second {
			t.Errorf("Ready %v after the start, before the initial delay %ds", d, delay)
		}
		if n := restartCount(got); n != 0 {
			t.Errorf("restartCount %d", n)
		}
	})

	// [sig-node] Probing container should be restarted with a exec "cat
	// /tmp/health" liveness probe [NodeConformance] [Conformance]
	g.Run("liveness exec restart", func(t *testing.T) {
		sleep := secs(10*time.Second, 2*time.Second)
		p := busyBoxPodSpec("liveness-exec", nil, &corev1.Probe{ProbeHandler: execProbe("cat", "/tmp/health"), InitialDelaySeconds: initialDelay, TimeoutSeconds: 5, FailureThreshold: 1},
			"/bin/sh", "-c", fmt.Sprintf("echo ok >/tmp/health; sleep %d; rm -rf /tmp/health; sleep 600", sleep))
		cc.runLivenessTest(t, p, 1, observe+time.Minute)
	})

	// [sig-node] Probing container should *not* be restarted with a exec
	// "cat /tmp/health" liveness probe [NodeConformance] [Conformance]
	g.Run("liveness exec no restart", func(t *testing.T) {
		p := busyBoxPodSpec("liveness-exec-ok", nil, &corev1.Probe{ProbeHandler: execProbe("cat", "/tmp/health"), InitialDelaySeconds: initialDelay, TimeoutSeconds: 5, FailureThreshold: 1},
			"/bin/sh", "-c", "echo ok >/tmp/health; sleep 600")
		cc.runLivenessTest(t, p, 0, observe)
		if ev := podEvents(t, cc.cs, p.Name); strings.Contains(ev, "Unhealthy") {
			t.Errorf("liveness failed:\n%s", ev)
		}
	})

	// [sig-node] Probing container should *not* be restarted with a
	// tcp:8080 liveness probe [NodeConformance] [Conformance]
	g.Run("liveness tcp no restart", func(t *testing.T) {
		p := webserver("liveness-tcp", func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(8080)}},
				InitialDelaySeconds: initialDelay + 1, FailureThreshold: 1}
		})
		cc.runLivenessTest(t, p, 0, observe)
	})

	// [sig-node] Probing container should have monotonically increasing
	// restart count [NodeConformance] [Conformance]: upstream waits for 5
	// restarts (minutes of crash back-off); the short run for 2.
	g.Run("liveness monotonic restarts", func(t *testing.T) {
		want := int32(5)
		if !conformanceFull() {
			want = 2
		}
		p := webserver("liveness-http-monotonic", func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: httpGet("/nope"), InitialDelaySeconds: secs(5*time.Second, time.Second), FailureThreshold: 1}
		})
		cc.runLivenessTest(t, p, want, conformanceScale(2*time.Minute+4*time.Minute+8*time.Minute, 90*time.Second))
	})

	// [sig-node] Probing container should be restarted with an exec
	// liveness probe with timeout [MinimumKubeletVersion:1.20] [NodeConformance]
	g.Run("liveness exec timeout", func(t *testing.T) {
		p := busyBoxPodSpec("liveness-exec-timeout", nil, &corev1.Probe{ProbeHandler: execProbe("/bin/sh", "-c", "sleep 10"), InitialDelaySeconds: initialDelay, TimeoutSeconds: 1, FailureThreshold: 1},
			"/bin/sh", "-c", "sleep 600")
		cc.runLivenessTest(t, p, 1, observe+time.Minute)
	})

	// [sig-node] Probing container should not be ready with an exec
	// readiness probe timeout [MinimumKubeletVersion:1.20] [NodeConformance]
	g.Run("readiness exec timeout", func(t *testing.T) {
		p := busyBoxPodSpec("readiness-exec-timeout", &corev1.Probe{ProbeHandler: execProbe("/bin/sh", "-c", "sleep 10"), InitialDelaySeconds: initialDelay, TimeoutSeconds: 1, FailureThreshold: 1}, nil,
			"/bin/sh", "-c", "sleep 600")
		cc.create(t, p)
		cc.wait(t, p.Name, "Running", time.Minute, running)
		// Never Ready for the window, which lasts at least until a
		// readiness probe has failed.
		end, limit := time.Now().Add(conformanceScale(time.Minute, 5*time.Second)), time.Now().Add(time.Minute)
		for time.Now().Before(end) || !strings.Contains(podEvents(t, cc.cs, p.Name), "Readiness probe") {
			if podReady(cc.get(t, p.Name)) == corev1.ConditionTrue {
				t.Fatal("Ready with a readiness probe that times out")
			}
			if time.Now().After(limit) {
				t.Fatalf("no failed readiness probe:\n%s", podEvents(t, cc.cs, p.Name))
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	// [sig-node] Probing container should override timeoutGracePeriodSeconds
	// when LivenessProbe field is set [NodeConformance]: the probe's 5 s, not
	// the pod's 500 s, bounds the kill (nothing listens on 8080).
	g.Run("liveness probe grace period", func(t *testing.T) {
		short, long := int64(5), int64(500)
		p := busyBoxPodSpec("liveness-grace", nil, &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(8080)}},
			InitialDelaySeconds: secs(10*time.Second, time.Second), FailureThreshold: 1, TerminationGracePeriodSeconds: &short}, "/bin/sh", "-c", "sleep 1000")
		p.Spec.TerminationGracePeriodSeconds = &long
		cc.runLivenessTest(t, p, 1, 40*time.Second+conformanceScale(4*time.Minute, 0))
	})

	// [sig-node] Probing container should override timeoutGracePeriodSeconds
	// when StartupProbe field is set [NodeConformance]
	g.Run("startup probe grace period", func(t *testing.T) {
		short, long := int64(5), int64(500)
		p := busyBoxPodSpec("startup-grace", nil, &corev1.Probe{ProbeHandler: execProbe("/bin/true"), InitialDelaySeconds: initialDelay, FailureThreshold: 1}, "/bin/sh", "-c", "sleep 1000")
		p.Spec.TerminationGracePeriodSeconds = &long
		p.Spec.Containers[0].StartupProbe = &corev1.Probe{ProbeHandler: execProbe("/bin/cat", "/tmp/startup"),
			InitialDelaySeconds: secs(10*time.Second, time.Second), FailureThreshold: 1, TerminationGracePeriodSeconds: &short}
		cc.runLivenessTest(t, p, 1, 40*time.Second+conformanceScale(4*time.Minute, 0))
	})

	// The lifecycle hooks call a handler pod, as upstream's; what they did
	// is also appended to a hostPath file, read from the host after the
	// hooked pod is gone (upstream reads the handler's log). Upstream's
	// hook command is curl; the toolbox has wget.
	handler := webserver("pod-handle-http-request", nil)
	var handlerIP string
	hookPod := func(t *testing.T, name string, lc *corev1.Lifecycle) (*corev1.Pod, string) {
		dir := t.TempDir()
		p := busyboxPod(name, "sh", "-c", "sleep 600")
		grace := int64(15)
		p.Spec.TerminationGracePeriodSeconds = &grace
		p.Spec.Containers[0].Lifecycle = lc
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "hooks", MountPath: "/hooks"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "hooks", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}
		return p, filepath.Join(dir, "log")
	}
	hookCmd := func(msg string) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c",
			"wget -q -O- http://" + handlerIP + ":8080/healthz?msg=" + msg + " && echo " + msg + " >> /hooks/log"}}}
	}
	readHookLog := func(path string) string { b, _ := os.ReadFile(path); return string(b) }

	g.Run("hooks", func(t *testing.T) {
		hg := newGroup(t)
		defer hg.Wait()
		cc.create(t, handler)
		hp := cc.wait(t, handler.Name, "Running", time.Minute, running)
		handlerIP = hp.Status.PodIP
		waitFor(t, "the handler serving", 30*time.Second, func() bool { return strings.Contains(cc.logs(t, handler.Name, "probehttp"), "serving") })

		// [sig-node] Container Lifecycle Hook when create a pod with
		// lifecycle hook should execute poststart exec hook properly
		// [NodeConformance] [Conformance]
		hg.Run("poststart exec", func(t *testing.T) {
			p, log := hookPod(t, "pod-with-poststart-exec-hook", &corev1.Lifecycle{PostStart: hookCmd("poststart")})
			cc.create(t, p)
			cc.wait(t, p.Name, "Running", time.Minute, running)
			for end := time.Now().Add(30 * time.Second); readHookLog(log) != "poststart\n"; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("hook log %q, want the postStart hook's call; events:\n%s", readHookLog(log), podEvents(t, cc.cs, p.Name))
				}
			}
			cc.deleteAndWait(t, p.Name, *metav1.NewDeleteOptions(15))
		})

		// [sig-node] Container Lifecycle Hook when create a pod with
		// lifecycle hook should execute prestop exec hook properly
		// [NodeConformance] [Conformance]
		hg.Run("prestop exec", func(t *testing.T) {
			p, log := hookPod(t, "pod-with-prestop-exec-hook", &corev1.Lifecycle{PreStop: hookCmd("prestop")})
			cc.create(t, p)
			cc.wait(t, p.Name, "Running", time.Minute, running)
			if got := readHookLog(log); got != "" {
				t.Fatalf("preStop ran before the delete: %q", got)
			}
			cc.deleteAndWait(t, p.Name, *metav1.NewDeleteOptions(15))
			if got := readHookLog(log); got != "prestop\n" {
				t.Errorf("hook log %q, want the preStop hook's call", got)
			}
		})

		// [sig-node] Container Lifecycle Hook when create a pod with
		// lifecycle hook should execute prestop http hook properly
		// [NodeConformance] [Conformance]: a preStop httpGet to the
		// handler; one to a path the handler answers 404 shows that the
		// request reached it (FailedPreStopHook with its status code).
		hg.Run("prestop http", func(t *testing.T) {
			inner := newGroup(t)
			defer inner.Wait()
			for path, fails := range map[string]bool{"/healthz": false, "/nope": true} {
				name := "pod-with-prestop-http-hook" + strings.ReplaceAll(path, "/", "-")
				inner.Run(name, func(t *testing.T) {
					p := busyboxPod(name, "sh", "-c", "sleep 600")
					p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: handlerIP, Path: path, Port: intstr.FromInt(8080)}}}
					cc.create(t, p)
					cc.wait(t, p.Name, "Running", time.Minute, running)
					cc.deleteAndWait(t, p.Name, *metav1.NewDeleteOptions(15))
					ev := podEvents(t, cc.cs, name)
					// Upstream's event says only "PreStopHook failed" (the
					// error is not recorded, lest it leak secrets).
					if got := strings.Contains(ev, "Warning FailedPreStopHook: PreStopHook failed"); got != fails {
						t.Errorf("preStop GET %s: FailedPreStopHook %v, want %v; events:\n%s", path, got, fails, ev)
					}
				})
			}
		})

		// Upstream runs pause, which exits on TERM; busybox's sh as the
		// container's first process does not (nor does the toolbox's): the
		// probehttp guest stands in for pause.
		// [sig-node] Restartable Init Container Lifecycle Hook
		// [NodeConformance] when create a pod with lifecycle hook should
		// execute poststart exec hook properly, ... prestop exec hook
		// properly, ... poststart http hook properly, ... prestop http hook
		// properly: the hooks of a sidecar (an init container with
		// restartPolicy Always) beside a main container.
		sidecar := func(t *testing.T, name string, lc *corev1.Lifecycle) (*corev1.Pod, string) {
			p, log := hookPod(t, name, lc)
			always := corev1.ContainerRestartPolicyAlways
			sc := p.Spec.Containers[0]
			sc.Name, sc.RestartPolicy = "sidecar", &always
			p.Spec.InitContainers = []corev1.Container{sc}
			p.Spec.Containers[0].Lifecycle, p.Spec.Containers[0].VolumeMounts = nil, nil
			return p, log
		}
		hg.Run("sidecar poststart exec", func(t *testing.T) {
			p, log := sidecar(t, "sidecar-with-poststart-exec-hook", &corev1.Lifecycle{PostStart: hookCmd("poststart")})
			cc.create(t, p)
			cc.wait(t, p.Name, "Running", time.Minute, running)
			waitFor(t, "the sidecar's postStart call", 30*time.Second, func() bool { return readHookLog(log) == "poststart\n" })
			cc.deleteAndWait(t, p.Name, *metav1.NewDeleteOptions(15))
		})
		hg.Run("sidecar prestop exec", func(t *testing.T) {
			p, log := sidecar(t, "sidecar-with-prestop-exec-hook", &corev1.Lifecycle{PreStop: hookCmd("prestop")})
			cc.create(t, p)
			cc.wait(t, p.Name, "Running", time.Minute, running)
			cc.deleteAndWait(t, p.Name, *metav1.NewDeleteOptions(15))
			if got := readHookLog(log); got != "prestop\n" {
				t.Errorf("hook log %q, want the sidecar's preStop call", got)
			}
			if ev := podEvents(t, cc.cs, p.Name); !strings.Contains(ev, "Normal Killing: Stopping container sidecar") {
				t.Errorf("no Killing event for the sidecar; events:\n%s", ev)
			}
		})
		hg.Run("sidecar http hooks", func(t *testing.T) {
			inner := newGroup(t)
			defer inner.Wait()
			for _, tc := range []struct {
				name   string
				lc     *corev1.Lifecycle
				reason string
			}{
				{"sidecar-poststart-http-404", &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: handlerIP, Path: "/nope", Port: intstr.FromInt(8080)}}}, "FailedPostStartHook"},
				{"sidecar-poststart-http", &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: handlerIP, Path: "/healthz", Port: intstr.FromInt(8080)}}}, ""},
				{"sidecar-prestop-http-404", &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: handlerIP, Path: "/nope", Port: intstr.FromInt(8080)}}}, "FailedPreStopHook"},
				{"sidecar-prestop-http", &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: handlerIP, Path: "/healthz", Port: intstr.FromInt(8080)}}}, ""},
			} {
				inner.Run(tc.name, func(t *testing.T) {
					p, _ := sidecar(t, tc.name, tc.lc)
					cc.create(t, p)
					if tc.reason == "FailedPostStartHook" {
						waitFor(t, "FailedPostStartHook", time.Minute, func() bool { return strings.Contains(podEvents(t, cc.cs, tc.name), "FailedPostStartHook") })
					} else {
						cc.wait(t, p.Name, "Running", time.Minute, running)
					}
					cc.deleteAndWait(t, p.Name, *metav1.NewDeleteOptions(15))
					ev := podEvents(t, cc.cs, tc.name)
					for _, r := range []string{"FailedPostStartHook", "FailedPreStopHook"} {
						if got := strings.Contains(ev, "Warning "+r); got != (r == tc.reason) {
							t.Errorf("%s event %v, want %v; events:\n%s", r, got, r == tc.reason, ev)
						}
					}
				})
			}
		})

		// The HTTPS hooks call a toolbox httpd -S (HTTPS with a
		// self-signed certificate; upstream's agnhost netexec serves TLS
		// with its own), which the hooks' GET must not verify, as
		// upstream's. /nope answers 404, which shows that the request
		// reached the handler (FailedPostStartHook / FailedPreStopHook);
		// a plain-http hook to the TLS port fails, which shows the scheme
		// is honoured.
		hg.Run("https hooks", func(t *testing.T) {
			tlsHandler := busyBoxPodSpec("pod-handle-https-request",
				&corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Scheme: corev1.URISchemeHTTPS, Path: "/healthz", Port: intstr.FromInt(9090)}}, PeriodSeconds: 1},
				nil, "sh", "-c", "mkdir -p /www && echo ok > /www/healthz && httpd -f -S -p 9090 -h /www")
			cc.create(t, tlsHandler)
			hp := cc.wait(t, tlsHandler.Name, "Ready (an HTTPS readiness probe)", time.Minute, func(p *corev1.Pod) bool {
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodReady {
						return c.Status == corev1.ConditionTrue
					}
				}
				return false
			})
			ip := hp.Status.PodIP
			get := func(scheme corev1.URIScheme, path string) *corev1.LifecycleHandler {
				return &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Scheme: scheme, Host: ip, Path: path, Port: intstr.FromInt(9090)}}
			}
			https := corev1.URISchemeHTTPS
			inner := newGroup(t)
			defer inner.Wait()
			for _, tc := range []struct {
				name    string
				sidecar bool
				lc      *corev1.Lifecycle
				reason  string
			}{
				// [sig-node] Container Lifecycle Hook when create a pod
				// with lifecycle hook should execute poststart https hook
				// properly [NodeConformance]
				{"pod-with-poststart-https-hook", false, &corev1.Lifecycle{PostStart: get(https, "/healthz")}, ""},
				{"pod-with-poststart-https-hook-404", false, &corev1.Lifecycle{PostStart: get(https, "/nope")}, "FailedPostStartHook"},
				{"pod-with-poststart-http-to-tls", false, &corev1.Lifecycle{PostStart: get(corev1.URISchemeHTTP, "/healthz")}, "FailedPostStartHook"},
				// ... should execute prestop https hook properly [NodeConformance]
				{"pod-with-prestop-https-hook", false, &corev1.Lifecycle{PreStop: get(https, "/healthz")}, ""},
				{"pod-with-prestop-https-hook-404", false, &corev1.Lifecycle{PreStop: get(https, "/nope")}, "FailedPreStopHook"},
				// [sig-node] Restartable Init Container Lifecycle Hook
				// [NodeConformance] when create a pod with lifecycle hook
				// should execute poststart https hook properly, ...
				// prestop https hook properly
				{"sidecar-poststart-https", true, &corev1.Lifecycle{PostStart: get(https, "/healthz")}, ""},
				{"sidecar-poststart-https-404", true, &corev1.Lifecycle{PostStart: get(https, "/nope")}, "FailedPostStartHook"},
				{"sidecar-prestop-https", true, &corev1.Lifecycle{PreStop: get(https, "/healthz")}, ""},
				{"sidecar-prestop-https-404", true, &corev1.Lifecycle{PreStop: get(https, "/nope")}, "FailedPreStopHook"},
			} {
				inner.Run(tc.name, func(t *testing.T) {
					var p *corev1.Pod
					if tc.sidecar {
						p, _ = sidecar(t, tc.name, tc.lc)
					} else {
						p, _ = hookPod(t, tc.name, tc.lc)
					}
					cc.create(t, p)
					if tc.reason == "FailedPostStartHook" {
						waitFor(t, "FailedPostStartHook", time.Minute, func() bool { return strings.Contains(podEvents(t, cc.cs, tc.name), "FailedPostStartHook") })
					} else {
						cc.wait(t, p.Name, "Running", time.Minute, running)
					}
					cc.deleteAndWait(t, p.Name, *metav1.NewDeleteOptions(15))
					ev := podEvents(t, cc.cs, tc.name)
					for _, r := range []string{"FailedPostStartHook", "FailedPreStopHook"} {
						if got := strings.Contains(ev, "Warning "+r); got != (r == tc.reason) {
							t.Errorf("%s event %v, want %v; events:\n%s", r, got, r == tc.reason, ev)
						}
					}
				})
			}
		})

		sleepHook := func(name string, seconds int64, grace int64) *corev1.Pod {
			p := webserver(name, nil)
			p.Spec.TerminationGracePeriodSeconds = &grace
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: seconds}}}
			p.Finalizers = []string{"test/finalizer"}
			return p
		}
		// sleepDuration deletes the pod and returns upstream's measure:
		// the container's finishedAt minus the deletionTimestamp, plus the
		// grace period.
		sleepDuration := func(t *testing.T, p *corev1.Pod, opts metav1.DeleteOptions, grace int64) time.Duration {
			t.Helper()
			cc.create(t, p)
			cc.wait(t, p.Name, "Running", time.Minute, running)
			if err := cc.cs.CoreV1().Pods("default").Delete(ctx, p.Name, opts); err != nil {
				t.Fatal(err)
			}
			deletion := cc.get(t, p.Name).DeletionTimestamp.Time
			end := cc.wait(t, p.Name, "terminated", 2*time.Minute, func(p *corev1.Pod) bool {
				return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
			})
			if _, err := cc.cs.CoreV1().Pods("default").Patch(ctx, p.Name, "application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			return end.Status.ContainerStatuses[0].State.Terminated.FinishedAt.Sub(deletion) + time.Duration(grace)*time.Second
		}

		// [sig-node] Lifecycle Sleep Hook when create a pod with lifecycle
		// hook using sleep action valid prestop hook using sleep action
		// [NodeConformance] (upstream: sleep 50 s, grace 100 s)
		hg.Run("prestop sleep", func(t *testing.T) {
			sleep, grace := int64(secs(50*time.Second, 3*time.Second)), int64(secs(100*time.Second, 8*time.Second))
			d := sleepDuration(t, sleepHook("pod-with-prestop-sleep-hook", sleep, grace), metav1.DeleteOptions{}, grace)
			if d < time.Duration(sleep)*time.Second || d > time.Duration(grace)*time.Second {
				t.Errorf("sleep duration %v, want between %ds and %ds", d, sleep, grace)
			}
		})

		// [sig-node] Lifecycle Sleep Hook ... reduce GracePeriodSeconds
		// during runtime [NodeConformance] (upstream: sleep 50 s, spec grace
		// 100 s, delete with 30 s)
		hg.Run("prestop sleep reduced grace", func(t *testing.T) {
			sleep, grace := int64(secs(50*time.Second, 8*time.Second)), int64(secs(30*time.Second, 3*time.Second))
			d := sleepDuration(t, sleepHook("pod-with-prestop-sleep-hook-reduced", sleep, 100), *metav1.NewDeleteOptions(grace), grace)
			// The kill comes at the grace period (plus upstream's 2 s for an
			// overrunning preStop at most), before the sleep ends.
			if d < time.Duration(grace)*time.Second || d > time.Duration(sleep)*time.Second {
				t.Errorf("sleep duration %v, want between %ds and %ds", d, grace, sleep)
			}
		})

		// [sig-node] Lifecycle Sleep Hook ... ignore terminated container
		// [NodeConformance]
		hg.Run("prestop sleep terminated container", func(t *testing.T) {
			p := busyboxPod("pod-with-prestop-sleep-hook-exited", "/bin/sh", "-c", "sleep 3")
			grace := int64(30)
			p.Spec.TerminationGracePeriodSeconds = &grace
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 10}}}
			cc.create(t, p)
			end := cc.wait(t, p.Name, "terminated", time.Minute, func(p *corev1.Pod) bool {
				return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
			})
			term := end.Status.ContainerStatuses[0].State.Terminated
			if d := term.FinishedAt.Sub(term.StartedAt.Time); d < 0 || d > 10*time.Second {
				t.Errorf("ran %v, want under the 10 s preStop sleep", d)
			}
			cc.deleteAndWait(t, p.Name, metav1.DeleteOptions{})
		})

		// [sig-node] Lifecycle sleep action zero value when create a pod
		// with lifecycle hook using sleep action with a duration of zero
		// seconds prestop hook using sleep action with zero duration
		// [NodeConformance]
		hg.Run("prestop sleep zero", func(t *testing.T) {
			p := webserver("pod-with-prestop-sleep-hook-zero-duration", nil)
			p.Spec.TerminationGracePeriodSeconds = nil
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 0}}}
			cc.create(t, p)
			cc.wait(t, p.Name, "Running", time.Minute, running)
			start := time.Now()
			cc.deleteAndWait(t, p.Name, metav1.DeleteOptions{})
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("delete took %v", d)
			}
		})
	})
}

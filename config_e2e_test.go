package wasmpod_test

// Issue 12 section 3 (configuration), through a Cluster with real wasm
// guests (testguests/configprobe) and the real kubectl v1.37: ConfigMaps
// and Secrets as env and volumes, the downward API, projected volumes,
// subPathExpr, and the errors of missing objects and keys. Each test
// names the upstream e2e behaviour it follows (test/e2e/common/node and
// test/e2e/common/storage).

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

type configEnv struct {
	c       *wasmpod.Cluster
	dir     string
	dataDir string
	wasm    string
	kc      string
}

func newConfigEnv(t *testing.T) *configEnv {
	t.Helper()
	e := &configEnv{dir: t.TempDir(), dataDir: t.TempDir()}
	e.wasm = filepath.Join(e.dir, "configprobe.wasm")
	if err := os.WriteFile(e.wasm, testwasm.Build(t, testwasm.GuestDir(t, "configprobe")), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: filepath.Join(e.dir, "cache"), DataDir: e.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.c = c
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c.SetAPIServerAddress(netip.MustParseAddrPort(u.Host))
	e.kc = filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(e.kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// kubectl runs the real kubectl; stdin is given to it when not empty.
func (e *configEnv) kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testkubectl.Path(t), append([]string{"--kubeconfig", e.kc, "--cache-dir", filepath.Join(e.dir, "kcache")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+e.dir, "KUBECONFIG="+e.kc)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (e *configEnv) mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := e.kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// apply applies a manifest with kubectl; WASM in it is the guest's path.
func (e *configEnv) apply(t *testing.T, doc string) {
	t.Helper()
	e.mustKubectl(t, strings.ReplaceAll(doc, "WASM", e.wasm), "apply", "-f", "-")
}

func (e *configEnv) waitPod(t *testing.T, name string, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := e.c.WaitPod(ctx, "default", name, cond)
	if err != nil {
		cur, _ := e.c.Get(context.Background(), "Pod", "default", name)
		t.Fatalf("pod %s: waiting for %s: %v\n%+v", name, what, err, cur)
	}
	return p
}

func podFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func waitingState(p *corev1.Pod) *corev1.ContainerStateWaiting {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil {
			return cs.State.Waiting
		}
	}
	return nil
}

// waitLogs polls kubectl logs until it holds want.
func (e *configEnv) waitLogs(t *testing.T, pod string, want string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var out string
	for time.Now().Before(deadline) {
		out, _ = e.kubectl(t, "", "logs", pod)
		if strings.Contains(out, want) {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("kubectl logs %s: no %q within %v:\n%s", pod, want, within, out)
	return ""
}

func wantLines(t *testing.T, what, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains("\n"+out, "\n"+l+"\n") {
			t.Errorf("%s: no line %q in:\n%s", what, l, out)
		}
	}
}

func TestConfigE2E(t *testing.T) {
	e := newConfigEnv(t)
	e.mustKubectl(t, "", "create", "configmap", "app-config", "--from-literal=greeting=hello", "--from-literal=color=blue", "--from-literal=1bad=x")
	e.mustKubectl(t, "", "create", "secret", "generic", "app-secret", "--from-literal=password=s3cret", "--from-literal=user=admin")

	// Upstream: "Secrets should be consumable from pods in env vars",
	// "ConfigMap should be consumable via environment variable",
	// "ConfigMap should be consumable via the environment" (envFrom with a
	// prefix), "Downward API should provide pod name, namespace and IP
	// address as env vars", "should provide container's limits.memory as
	// env vars", "Variable Expansion should allow composing env vars into
	// new env vars", and optional references to a missing ConfigMap key
	// and ConfigMap.
	t.Run("env", func(t *testing.T) {
		e.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: env-pod
  labels: {tier: backend}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    args: [env:GREETING, env:PASSWORD, env:CFG_color, env:CFG_greeting, env:user, env:password, env:POD_NAME, env:POD_NS,
      env:POD_IP, env:HOST_IP, env:TIER, env:MEM_MI, env:MSG, env:OPT_KEY, env:OPT_CM, env:color, env:1bad]
    resources: {limits: {memory: 64Mi}}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: app-config}
    - secretRef: {name: app-secret}
    - configMapRef: {name: no-such-config, optional: true}
    - configMapRef: {name: app-config}
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: app-secret, key: password}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: HOST_IP
      valueFrom: {fieldRef: {fieldPath: status.hostIP}}
    - name: TIER
      valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}
    - name: MEM_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    - name: MSG
      value: $(GREETING)-from-$(POD_NAME)
    - name: OPT_KEY
      valueFrom: {configMapKeyRef: {name: app-config, key: absent, optional: true}}
    - name: OPT_CM
      valueFrom: {secretKeyRef: {name: no-such-secret, key: k, optional: true}}
`)
		p := e.waitPod(t, "env-pod", "the end", podFinished)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s: %+v", p.Status.Phase, p.Status)
		}
		out := e.mustKubectl(t, "", "logs", "env-pod")
		wantLines(t, "kubectl logs env-pod", out,
			"GREETING=hello", "PASSWORD=s3cret", "CFG_color=blue", "CFG_greeting=hello", "user=admin", "password=s3cret",
			"POD_NAME=env-pod", "POD_NS=default", "POD_IP="+p.Status.PodIP, "HOST_IP=127.0.0.1", "TIER=backend", "MEM_MI=64",
			"MSG=hello-from-env-pod", "OPT_KEY=<unset>", "OPT_CM=<unset>", "color=blue", "1bad=<unset>")
		// The key that is no variable name is skipped with upstream's event.
		ev := e.mustKubectl(t, "", "get", "events", "--field-selector", "reason=InvalidEnvironmentVariableNames", "-o", "jsonpath={.items[*].message}")
		if want := "Keys [1bad] from the EnvFrom configMap default/app-config were skipped since they are considered invalid environment variable names."; !strings.Contains(ev, want) {
			t.Errorf("InvalidEnvironmentVariableNames events: %q, want %q", ev, want)
		}
	})

	// Upstream: "ConfigMap should fail to create ConfigMap with empty key"
	// is the API's; here the kubelet side: "Secrets should fail to
	// create a pod with a missing secret" style CreateContainerConfigError
	// with the kubelet's messages for a missing object and a missing key.
	t.Run("missing object and key", func(t *testing.T) {
		e.apply(t, `apiVersion: v1
kind: Pod
metadata: {name: missing-cm}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: nope, key: k}}
---
apiVersion: v1
kind: Pod
metadata: {name: missing-key}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: app-config, key: k}}
---
apiVersion: v1
kind: Pod
metadata: {name: missing-secret}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    envFrom:
    - secretRef: {name: nope}
`)
		for pod, msg := range map[string]string{
			"missing-cm":     `configmap "nope" not found`,
			"missing-key":    `couldn't find key k in ConfigMap default/app-config`,
			"missing-secret": `secret "nope" not found`,
		} {
			e.waitPod(t, pod, "CreateContainerConfigError", func(p *corev1.Pod) bool {
				w := waitingState(p)
				return w != nil && w.Reason == "CreateContainerConfigError"
			})
			got := e.mustKubectl(t, "", "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].state.waiting.message}")
			if got != msg {
				t.Errorf("pod %s: waiting message %q, want %q", pod, got, msg)
			}
			if out := e.mustKubectl(t, "", "get", "pod", pod, "--no-headers"); !strings.Contains(out, "CreateContainerConfigError") {
				t.Errorf("kubectl get pod %s: %q lacks CreateContainerConfigError", pod, out)
			}
		}
	})

	// Upstream: "ConfigMap should be consumable from pods in volume with
	// mappings and Item mode set", "Secrets should be consumable from pods
	// in volume with defaultMode set", "Downward API volume should update
	// labels on modification" (here: labels and annotations files),
	// "Projected combined should project all components that make up the
	// projection API", "ConfigMap optional updates should be reflected in
	// volume" (an optional missing ConfigMap gives an empty volume), and
	// "Variable Expansion should allow substituting values in a volume
	// subpath".
	t.Run("volumes", func(t *testing.T) {
		e.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: vol-pod
  labels: {app: web, tier: front-end}
  annotations: {builder: "jane \"j\" doe"}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    args: [cat:/cm/sub/greeting.txt, ls:/cm, ls:/secret, cat:/secret/password, cat:/podinfo/labels, cat:/podinfo/annotations,
      cat:/podinfo/name, ls:/all, cat:/all/color, cat:/all/user, cat:/all/ns, ls:/opt, write:/cm/new, write:/secret/password,
      write:/work/f, ls:/work]
    env:
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    volumeMounts:
    - {name: cm, mountPath: /cm}
    - {name: secret, mountPath: /secret}
    - {name: podinfo, mountPath: /podinfo}
    - {name: all, mountPath: /all}
    - {name: opt, mountPath: /opt}
    - {name: scratch, mountPath: /work, subPathExpr: $(POD_NAME)}
  volumes:
  - name: cm
    configMap:
      name: app-config
      items: [{key: greeting, path: sub/greeting.txt, mode: 0400}]
  - name: secret
    secret: {secretName: app-secret, defaultMode: 0440}
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
  - name: all
    projected:
      sources:
      - configMap: {name: app-config, items: [{key: color, path: color}]}
      - secret: {name: app-secret, items: [{key: user, path: user}]}
      - downwardAPI: {items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]}
  - name: opt
    configMap: {name: no-such-config, optional: true}
  - name: scratch
    emptyDir: {}
`)
		p := e.waitPod(t, "vol-pod", "the end", podFinished)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s: %+v", p.Status.Phase, p.Status)
		}
		out := e.mustKubectl(t, "", "logs", "vol-pod")
		wantLines(t, "kubectl logs vol-pod", out,
			`/cm/sub/greeting.txt="hello"`, `/cm ls=sub`, `/secret ls=password,user`, `/secret/password="s3cret"`,
			`/podinfo/labels="app=\"web\"\ntier=\"front-end\""`,
			`/podinfo/name="vol-pod"`, `/all ls=color,ns,user`, `/all/color="blue"`, `/all/user="admin"`, `/all/ns="default"`,
			`/opt ls=`, `/cm/new write=error`, `/secret/password write=error`, `/work/f write=ok`, `/work ls=f`)
		// All annotations (kubectl apply's among them), sorted, quoted.
		if want := "\n" + `/podinfo/annotations="builder=\"jane \\\"j\\\" doe\"\nkubectl.kubernetes.io/last-applied-configuration=\"{`; !strings.Contains(out, want) {
			t.Errorf("kubectl logs vol-pod: no %q in:\n%s", want, out)
		}
	})

	// Upstream: "ConfigMap updates should be reflected in volume" and
	// "Secrets should be consumable from pods in volume with mappings and
	// Item Mode set": the kubelet's AtomicWriter layout on the host, the
	// modes of the files, and an update through kubectl reaching the
	// running guest by the ..data swap.
	t.Run("update reaches a mounted volume", func(t *testing.T) {
		e.mustKubectl(t, "", "create", "configmap", "live", "--from-literal=k=v1", "--from-literal=other=o")
		e.apply(t, `apiVersion: v1
kind: Pod
metadata: {name: live-pod}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: WASM
    args: [watch:/cfg/k, watch:/pinned/other]
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: cfg, mountPath: /pinned, subPath: deep}
  volumes:
  - name: cfg
    configMap:
      name: live
      defaultMode: 0440
      items: [{key: k, path: k}, {key: other, path: deep/other, mode: 0400}]
`)
		e.waitLogs(t, "live-pod", `/cfg/k="v1"`, 60*time.Second)
		vols, _ := filepath.Glob(filepath.Join(e.dataDir, "nodes", "*", "pods", "default_live-pod_*", "volumes", "cfg"))
		if len(vols) != 1 {
			t.Fatalf("the volume's directory on the host: %v", vols)
		}
		vol := vols[0]
		data, err := os.Readlink(filepath.Join(vol, "..data"))
		if err != nil || !strings.HasPrefix(data, "..20") {
			t.Fatalf("..data: %q, %v", data, err)
		}
		if l, err := os.Readlink(filepath.Join(vol, "k")); err != nil || l != "..data/k" {
			t.Errorf("k: symlink to %q (%v), want ..data/k", l, err)
		}
		for f, mode := range map[string]os.FileMode{"k": 0o440, "deep/other": 0o400} {
			fi, err := os.Stat(filepath.Join(vol, data, f))
			if err != nil || fi.Mode().Perm() != mode {
				t.Errorf("%s: mode %v (%v), want %#o", f, fi.Mode().Perm(), err, mode)
			}
		}
		e.waitLogs(t, "live-pod", `/pinned/other="o"`, 10*time.Second)
		e.mustKubectl(t, "", "patch", "configmap", "live", "-p", `{"data":{"k":"v2","other":"o2"}}`)
		e.waitLogs(t, "live-pod", `/cfg/k="v2"`, 30*time.Second)
		// Upstream: "Subpath should verify that container can restart
		// successfully after configmaps modified" relies on a subPath mount
		// of a ConfigMap not being updated: it keeps its first payload.
		time.Sleep(time.Second)
		if out, _ := e.kubectl(t, "", "logs", "live-pod"); strings.Contains(out, `/pinned/other="o2"`) || strings.Contains(out, "/pinned/other=error") {
			t.Errorf("the subPath mount changed after the update:\n%s", out)
		}
		data2, _ := os.Readlink(filepath.Join(vol, "..data"))
		if data2 == data {
			t.Errorf("..data still points at %s after the update", data)
		}
		if b, err := os.ReadFile(filepath.Join(vol, data, "deep", "other")); err != nil || string(b) != "o" {
			t.Errorf("the old payload, which the subPath mount reads: %q, %v", b, err)
		}
	})

	// Upstream: "Downward API volume should update labels on
	// modification" and "should update annotations on modification".
	t.Run("downward API volume follows labels", func(t *testing.T) {
		e.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: labels-pod
  labels: {stage: one}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: WASM
    args: [watch:/info/labels, watch:/info/stage]
    volumeMounts:
    - {name: info, mountPath: /info}
  volumes:
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: stage, fieldRef: {fieldPath: "metadata.labels['stage']"}}
`)
		e.waitLogs(t, "labels-pod", `/info/labels="stage=\"one\""`, 60*time.Second)
		e.mustKubectl(t, "", "label", "pod", "labels-pod", "stage=two", "extra=yes", "--overwrite")
		e.waitLogs(t, "labels-pod", `/info/labels="extra=\"yes\"\nstage=\"two\""`, 30*time.Second)
		e.waitLogs(t, "labels-pod", `/info/stage="two"`, 5*time.Second)
	})

	// Upstream: "ConfigMap should be consumable from pods in volume" when
	// the ConfigMap is created after the pod: the pod waits in
	// ContainerCreating with FailedMount events, then runs.
	t.Run("volume waits for its ConfigMap", func(t *testing.T) {
		e.apply(t, `apiVersion: v1
kind: Pod
metadata: {name: late-pod}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    args: [cat:/c/k]
    volumeMounts:
    - {name: c, mountPath: /c}
  volumes:
  - name: c
    configMap: {name: late}
`)
		deadline := time.Now().Add(30 * time.Second)
		want := `MountVolume.SetUp failed for volume "c" : configmap "late" not found`
		for {
			ev, _ := e.kubectl(t, "", "get", "events", "--field-selector", "reason=FailedMount,involvedObject.name=late-pod", "-o", "jsonpath={.items[*].message}")
			if strings.Contains(ev, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no FailedMount event %q: %q", want, ev)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if out := e.mustKubectl(t, "", "get", "pod", "late-pod", "--no-headers"); !strings.Contains(out, "ContainerCreating") {
			t.Errorf("kubectl get pod late-pod: %q, want ContainerCreating", out)
		}
		e.mustKubectl(t, "", "create", "configmap", "late", "--from-literal=k=arrived")
		p := e.waitPod(t, "late-pod", "the end", podFinished)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s", p.Status.Phase)
		}
		wantLines(t, "kubectl logs late-pod", e.mustKubectl(t, "", "logs", "late-pod"), `/c/k="arrived"`)
	})

	// Upstream: "KubeletManagedEtcHosts should test kubelet managed
	// /etc/hosts file" (hostAliases): the aliases resolve in the pod,
	// before cluster DNS; other names resolve as before; kubectl refuses
	// an alias that is no IP.
	t.Run("hostAliases", func(t *testing.T) {
		e.apply(t, `apiVersion: v1
kind: Pod
metadata: {name: hosts-pod}
spec:
  restartPolicy: Never
  hostAliases:
  - {ip: 10.1.2.3, hostnames: [foo.local, bar.remote]}
  - {ip: 10.1.2.4, hostnames: [foo.local]}
  containers:
  - name: main
    image: WASM
    args: [resolve:foo.local, resolve:BAR.remote, resolve:localhost, resolve:nothing.invalid]
`)
		p := e.waitPod(t, "hosts-pod", "the end", podFinished)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s", p.Status.Phase)
		}
		wantLines(t, "kubectl logs hosts-pod", e.mustKubectl(t, "", "logs", "hosts-pod"),
			"foo.local resolve=10.1.2.3,10.1.2.4", "BAR.remote resolve=10.1.2.3", "localhost resolve=127.0.0.1", "nothing.invalid resolve=error")
		out, err := e.kubectl(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: bad-hosts}\nspec:\n  hostAliases: [{ip: not-an-ip, hostnames: [x]}]\n  containers: [{name: main, image: "+e.wasm+"}]\n", "apply", "-f", "-")
		if err == nil || !strings.Contains(out, "spec.hostAliases[0].ip: Invalid value: \"not-an-ip\"") {
			t.Errorf("kubectl apply of a bad hostAlias: %v\n%s", err, out)
		}
	})

	// stringData is write-only: merged into data, never stored (upstream's
	// "Secrets should patch a secret" relies on data being what is read).
	t.Run("stringData", func(t *testing.T) {
		e.apply(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: sd}\ndata: {a: YQ==, b: Yg==}\nstringData: {b: B, c: C}\n")
		got := e.mustKubectl(t, "", "get", "secret", "sd", "-o", "jsonpath={.data.a} {.data.b} {.data.c} [{.stringData}]")
		if got != "YQ== Qg== Qw== []" {
			t.Errorf("kubectl get secret sd: %q, want %q", got, "YQ== Qg== Qw== []")
		}
	})

	// Secrets are never printed by describe: kubectl shows their sizes.
	t.Run("describe secret", func(t *testing.T) {
		out := e.mustKubectl(t, "", "describe", "secret", "app-secret")
		if !strings.Contains(out, "password:  6 bytes") || strings.Contains(out, "s3cret") {
			t.Errorf("kubectl describe secret:\n%s", out)
		}
	})
}

// The same through the embedding API alone (Cluster.Apply of a ConfigMap,
// a Secret and a pod from one manifest, Cluster.Logs): upstream's
// "Secrets should be consumable from pods in env vars" and "ConfigMap
// should be consumable from pods in volume".
func TestConfigThroughEmbeddingAPI(t *testing.T) {
	c := newTestCluster(t)
	wasm := moduleFile(t, "configprobe.wasm", testwasm.Build(t, testwasm.GuestDir(t, "configprobe")))
	manifest := filepath.Join(filepath.Dir(wasm), "app.yaml")
	if err := os.WriteFile(manifest, []byte(strings.ReplaceAll(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: t0ps3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: embed}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    args: [env:TOKEN, cat:/etc/settings/mode]
    env:
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: creds, key: token}}
    volumeMounts:
    - {name: settings, mountPath: /etc/settings}
  volumes:
  - name: settings
    configMap: {name: settings}
`, "WASM", wasm)), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := wasmpod.LoadObjects(manifest, wasmpod.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, err := c.Apply(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := c.WaitPod(ctx, "default", "embed", podFinished)
	if err != nil {
		cur, _ := c.Get(context.Background(), "Pod", "default", "embed")
		t.Fatalf("%v: %+v", err, cur.(*corev1.Pod).Status)
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("phase %s: %+v", p.Status.Phase, p.Status)
	}
	wantLines(t, "logs of embed", podLogs(t, c, "embed", "main"), "TOKEN=t0ps3cret", `/etc/settings/mode="fast"`)
}

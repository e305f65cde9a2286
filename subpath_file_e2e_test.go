package wasmpod_test

// Single-file subPath mounts (issue 12, section 3): a volumeMount whose
// subPath names a FILE of the volume (a ConfigMap key, a file in an
// emptyDir) mounts that file alone at mountPath, as the kubelet's bind
// mount of the file does, e.g. upstream's common
//
//	volumeMounts: [{name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}]
//
// Checked with the real kubectl v1.37.2, the toolbox (image busybox; exec
// -- cat) and a C guest built with wasi-libc (open/stat/unlink/rename).
// Upstream behaviours: the file reads as the volume's file and the rest of
// the directory is unaffected; a ConfigMap mounted with subPath does not
// receive updates (the docs' "A container using a ConfigMap as a subPath
// volume mount will not receive ConfigMap updates"); the file is resolved
// once at start and pinned (a later rename, or a symlink put in its
// place, does not change what the container sees); a mount point cannot
// be removed or renamed over (EBUSY).

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// fileProbeC is a C guest (wasi-libc) that runs one file operation per
// argument and prints one line for each: stat:P, cat:P, append:P=TEXT,
// unlink:P, rename:A=B (append creates), symlink:TARGET=P, ls:DIR.
const fileProbeC = `#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ename(int e) {
	switch (e) {
	case EROFS: return "EROFS";
	case EBUSY: return "EBUSY";
	case EXDEV: return "EXDEV";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	}
	return "other";
}

static void result(const char *op, const char *p, int rc) {
	if (rc < 0) printf("%s %s: %s\n", op, p, ename(errno));
	else printf("%s %s: ok\n", op, p);
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		char op[16] = {0}, a[256] = {0}, b[256] = {0};
		const char *c = strchr(argv[i], ':');
		if (!c || c - argv[i] >= (long)sizeof op) continue;
		memcpy(op, argv[i], c - argv[i]);
		snprintf(a, sizeof a, "%s", c + 1);
		char *eq = strchr(a, '=');
		if (eq) { *eq = 0; snprintf(b, sizeof b, "%s", eq + 1); }
		if (!strcmp(op, "stat")) {
			struct stat st;
			if (stat(a, &st) < 0) { result(op, a, -1); continue; }
			printf("stat %s: %s %lld\n", a, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other", (long long)st.st_size);
		} else if (!strcmp(op, "cat")) {
			int fd = open(a, O_RDONLY);
			if (fd < 0) { result(op, a, -1); continue; }
			char buf[512]; ssize_t n = read(fd, buf, sizeof buf - 1);
			close(fd);
			if (n < 0) { result(op, a, -1); continue; }
			buf[n] = 0;
			for (ssize_t j = 0; j < n; j++) if (buf[j] == '\n') buf[j] = '|';
			printf("cat %s: %s\n", a, buf);
		} else if (!strcmp(op, "append")) {
			int fd = open(a, O_WRONLY | O_APPEND | O_CREAT, 0644);
			if (fd < 0) { result(op, a, -1); continue; }
			int rc = write(fd, b, strlen(b)) < 0 ? -1 : 0;
			close(fd);
			result(op, a, rc);
		} else if (!strcmp(op, "unlink")) {
			result(op, a, unlink(a));
		} else if (!strcmp(op, "rename")) {
			result(op, a, rename(a, b));
		} else if (!strcmp(op, "symlink")) {
			result(op, b, symlink(a, b));
		} else if (!strcmp(op, "ls")) {
			struct dirent **list;
			int n = scandir(a, &list, NULL, alphasort);
			if (n < 0) { result(op, a, -1); continue; }
			printf("ls %s:", a);
			for (int j = 0; j < n; j++) if (list[j]->d_name[0] != '.') printf(" %s", list[j]->d_name);
			printf("\n");
		}
	}
	fflush(stdout);
	return 0;
}
`

// newSubPathFileEnv is a streamEnv whose module store has the toolbox
// (the busybox alias) and the C file probe as wasmpod.local/fileprobe:v1;
// hostPath volumes are allowed.
func newSubPathFileEnv(t *testing.T) *streamEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "fileprobe.c")
	if err := os.WriteFile(src, []byte(fileProbeC), 0o644); err != nil {
		t.Fatal(err)
	}
	cprobe := testwasm.BuildForeign(t, testwasm.Foreign{
		Name: "c-fileprobe", Tool: "clang", Version: []string{"--version"}, Inputs: []string{src},
		Args: func(out string) []string {
			return []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "fileprobe.c", "-o", out}
		},
		Install: "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32",
	})
	store := moduleStore(t, map[string][]byte{"toolbox:latest": exampleModule(t, "toolbox"), "fileprobe:v1": cprobe})
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store, AllowHostPath: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &streamEnv{c: c, dir: dir, kc: kc}
}

const subPathFileManifest = `apiVersion: v1
kind: ConfigMap
metadata: {name: nginx}
data:
  nginx.conf: "worker_processes 1;\n"
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  initContainers:
  - name: seed
    image: busybox
    command: ["sh", "-c", "echo first > /data/app.conf; echo keep > /data/keep"]
    volumeMounts: [{name: scratch, mountPath: /data}]
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    volumeMounts:
    - {name: cfg, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}
    - {name: cfg, mountPath: /cfg}
    - {name: scratch, mountPath: /etc/app/app.conf, subPath: app.conf}
    - {name: scratch, mountPath: /data}
  volumes:
  - {name: cfg, configMap: {name: nginx}}
  - {name: scratch, emptyDir: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: cguest}
spec:
  restartPolicy: Never
  initContainers:
  - name: seed
    image: busybox
    command: ["sh", "-c", "echo first > /data/app.conf; mkdir /data/d"]
    volumeMounts: [{name: scratch, mountPath: /data}]
  containers:
  - name: probe
    image: wasmpod.local/fileprobe:v1
    args:
    - stat:/etc/nginx/nginx.conf
    - cat:/etc/nginx/nginx.conf
    - append:/etc/nginx/nginx.conf=x
    - ls:/etc/nginx
    - stat:/data/d/app.conf
    - append:/data/d/app.conf=second
    - cat:/data/app.conf
    - rename:/data/app.conf=/data/moved
    - symlink:d=/data/app.conf
    - unlink:/data/d/app.conf
    - rename:/data/d/app.conf=/data/d/moved
    - symlink:../app.conf=/data/d/link
    - rename:/data/d/link=/data/d/app.conf
    - append:/data/d/new=beside
    - ls:/data/d
    - cat:/data/d/app.conf
    volumeMounts:
    - {name: cfg, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}
    - {name: scratch, mountPath: /data}
    - {name: scratch, mountPath: /data/d/app.conf, subPath: app.conf}
  volumes:
  - {name: cfg, configMap: {name: nginx}}
  - {name: scratch, emptyDir: {}}
`

func TestSubPathFileMounts(t *testing.T) {
	t.Parallel()
	e := newSubPathFileEnv(t)
	if _, errOut, code := e.run(t, subPathFileManifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	e.must(t, "wait", "--for=condition=Ready", "pod/web", "--timeout=120s")

	// The toolbox through kubectl exec: the ConfigMap key reads as a
	// file, alone in its directory, read-only.
	if out := e.must(t, "exec", "web", "--", "cat", "/etc/nginx/nginx.conf"); out != "worker_processes 1;\n" {
		t.Errorf("cat /etc/nginx/nginx.conf = %q", out)
	}
	if out := e.must(t, "exec", "web", "--", "ls", "/etc/nginx"); out != "nginx.conf\n" {
		t.Errorf("ls /etc/nginx = %q", out)
	}
	if _, errOut, code := e.run(t, "", "exec", "web", "--", "sh", "-c", "echo x > /etc/nginx/nginx.conf"); code == 0 || !strings.Contains(strings.ToLower(errOut), "read-only") {
		t.Errorf("writing the ConfigMap file: exit %d %q, want a read-only error", code, errOut)
	}
	// The emptyDir's file: writes reach the volume.
	if out := e.must(t, "exec", "web", "--", "sh", "-c", "echo second >> /etc/app/app.conf; cat /data/app.conf"); out != "first\nsecond\n" {
		t.Errorf("append through the mount, read from the volume: %q", out)
	}
	// A mount point cannot be removed.
	// (Here it is in the container's writable "/": EBUSY, as on Linux.)
	if _, errOut, code := e.run(t, "", "exec", "web", "--", "rm", "/etc/app/app.conf"); code == 0 || !strings.Contains(errOut, "busy") {
		t.Errorf("rm of the mount point: exit %d %q, want a busy error", code, errOut)
	}
	// Pinned at start: the volume's name moved away and another file put
	// in its place changes nothing the container sees.
	e.must(t, "exec", "web", "--", "sh", "-c", "mv /data/app.conf /data/moved; echo replaced > /data/app.conf")
	if out := e.must(t, "exec", "web", "--", "cat", "/etc/app/app.conf"); out != "first\nsecond\n" {
		t.Errorf("after the volume's file was replaced: %q, want the pinned file", out)
	}
	// A ConfigMap update reaches the whole-volume mount, not the subPath
	// file (upstream: subPath mounts receive no updates).
	e.must(t, "patch", "configmap", "nginx", "-p", `{"data":{"nginx.conf":"worker_processes 2;\n"}}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := e.must(t, "exec", "web", "--", "cat", "/cfg/nginx.conf")
		if out == "worker_processes 2;\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ConfigMap update never reached /cfg: %q", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out := e.must(t, "exec", "web", "--", "cat", "/etc/nginx/nginx.conf"); out != "worker_processes 1;\n" {
		t.Errorf("subPath file after the ConfigMap update = %q, want the start's content", out)
	}

	// The C guest (wasi-libc's path resolution, stat, open, unlink,
	// rename, symlink over the mount point inside its own volume).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.c.WaitPod(ctx, "default", "cguest", podFinished); err != nil {
		t.Fatal(err)
	}
	logs := e.must(t, "logs", "cguest")
	wantLines(t, "C guest", logs,
		"stat /etc/nginx/nginx.conf: file 20",
		"cat /etc/nginx/nginx.conf: worker_processes 1;|",
		"append /etc/nginx/nginx.conf: EROFS",
		"ls /etc/nginx: nginx.conf",
		"stat /data/d/app.conf: file 6",
		"append /data/d/app.conf: ok",
		"cat /data/app.conf: first|second",
		"rename /data/app.conf: ok",
		"symlink /data/app.conf: ok",
		"unlink /data/d/app.conf: EBUSY",
		"rename /data/d/app.conf: EBUSY",
		"symlink /data/d/link: ok",
		"rename /data/d/link: EBUSY",
		"append /data/d/new: ok",
		"ls /data/d: app.conf link new",
		"cat /data/d/app.conf: first|second",
	)
}

// TestSubPathErrors: the API refuses a subPath that is absolute or climbs
// (upstream's messages and field), and a subPathExpr whose value is known
// only on the node fails the container with CreateContainerConfigError
// and the kubelet's messages (ExpandContainerVolumeMounts, makeMounts).
func TestSubPathErrors(t *testing.T) {
	t.Parallel()
	e := newSubPathFileEnv(t)
	bad := func(name, subPath string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    volumeMounts: [{name: data, mountPath: /x, subPath: %q}]
  volumes: [{name: data, emptyDir: {}}]
`, name, subPath)
	}
	for name, tc := range map[string]struct{ subPath, want string }{
		"absolute": {"/etc", `The Pod "absolute" is invalid: spec.containers[0].volumeMounts.subPath: Invalid value: "/etc": must be a relative path`},
		"climbs":   {"a/../../b", `The Pod "climbs" is invalid: spec.containers[0].volumeMounts.subPath: Invalid value: "a/../../b": must not contain '..'`},
	} {
		_, errOut, code := e.run(t, bad(name, tc.subPath), "apply", "-f", "-")
		if code == 0 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("%s: exit %d %q, want %q", name, code, errOut, tc.want)
		}
	}
	expr := func(name, value, subPathExpr string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    env: [{name: P, value: %q}, {name: EMPTY, value: ""}]
    volumeMounts: [{name: data, mountPath: /x, subPathExpr: %q}]
  volumes: [{name: data, emptyDir: {}}]
`, name, value, subPathExpr)
	}
	cases := map[string]struct{ value, expr, want string }{
		"undefined": {"p", "$(P)/$(NOPE)", "missing value for NOPE"},
		"empty":     {"p", "$(EMPTY)$(NOPE)/$(P)", "missing value for EMPTY, NOPE"},
		"abs":       {"/tmp", "$(P)", "error SubPath `/tmp` must not be an absolute path"},
		"backstep":  {"..", "$(P)", "unable to provision SubPath `..`: must not contain '..'"},
	}
	var docs []string
	for name, tc := range cases {
		docs = append(docs, expr(name, tc.value, tc.expr))
	}
	if _, errOut, code := e.run(t, strings.Join(docs, "---\n"), "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	for name, tc := range cases {
		// The module is compiled before the mounts are prepared: minutes
		// on a loaded machine.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		p, err := e.c.WaitPod(ctx, "default", name, func(p *corev1.Pod) bool {
			w := waitingState(p)
			return w != nil && w.Reason == "CreateContainerConfigError"
		})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := waitingState(p); w.Message != tc.want {
			t.Errorf("%s: waiting message %q, want %q", name, w.Message, tc.want)
		}
	}
}

// TestHostPathFileMounts: hostPath volumes of type File and FileOrCreate
// (and no type on a file) mount one host file, as upstream; File on a
// directory fails with the kubelet's type-check message.
func TestHostPathFileMounts(t *testing.T) {
	t.Parallel()
	e := newSubPathFileEnv(t)
	dir := t.TempDir()
	conf, created, untyped := filepath.Join(dir, "host.conf"), filepath.Join(dir, "new.conf"), filepath.Join(dir, "untyped")
	if err := os.WriteFile(conf, []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(untyped, []byte("no type\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hostfile}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "cat /etc/host.conf /etc/untyped; echo written >> /etc/new.conf; ls /etc"]
    volumeMounts:
    - {name: conf, mountPath: /etc/host.conf, readOnly: true}
    - {name: created, mountPath: /etc/new.conf}
    - {name: untyped, mountPath: /etc/untyped}
  volumes:
  - {name: conf, hostPath: {path: %s, type: File}}
  - {name: created, hostPath: {path: %s, type: FileOrCreate}}
  - {name: untyped, hostPath: {path: %s}}
---
apiVersion: v1
kind: Pod
metadata: {name: notafile}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    volumeMounts: [{name: d, mountPath: /etc/d}]
  volumes: [{name: d, hostPath: {path: %s, type: File}}]
`, conf, created, untyped, dir)
	if _, errOut, code := e.run(t, manifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := e.c.WaitPod(ctx, "default", "hostfile", podFinished)
	if err != nil {
		out, _, _ := e.run(t, "", "describe", "pod", "hostfile")
		t.Fatalf("%v\n%s", err, out)
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("hostfile: %s, logs %q", p.Status.Phase, e.must(t, "logs", "hostfile"))
	}
	if out := e.must(t, "logs", "hostfile"); out != "from the host\nno type\nhost.conf\nnew.conf\nuntyped\n" {
		t.Errorf("logs %q", out)
	}
	if b, err := os.ReadFile(created); err != nil || string(b) != "written\n" {
		t.Errorf("FileOrCreate file on the host: %q, %v", b, err)
	}
	want := "hostPath type check failed: " + dir + " is not a file"
	deadline := time.Now().Add(time.Minute)
	for {
		out := e.must(t, "describe", "pod", "notafile")
		if strings.Contains(out, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl describe pod notafile never said %q:\n%s", want, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

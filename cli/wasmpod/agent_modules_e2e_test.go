package main

// wasmpod.local images on a remote agent (issue 15 §1): the agent keeps
// its own module store and pulls a module from serve's through the API
// with its node credential, as a kubelet pulls from a registry; a retag
// at serve reaches the agent's next pod; a tag serve does not have is
// ErrImagePull.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestAgentPullsStoreImages(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	s := serveControlPlane(t, dir, addr)
	kc := filepath.Join(dir, "kubeconfig")
	env := buildEnv(t, kc)
	join := strings.Fields(mustClient(t, cleanEnv(t, kc), binPath, "token", "create", "--print-join-command"))
	data := filepath.Join(t.TempDir(), "mod-1")
	start(t, "", append(join[1:], "--node-name", "mod-1", "--data-dir", data,
		"--cache-dir", cacheDir, "--kubelet-port", "0", "--address", "127.0.0.1", "--heartbeat-interval", "1s")...)
	waitNode(t, s.client, "mod-1", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })

	if out := mustClient(t, env, binPath, "image", "import", "go://./wasm-examples/hello", "hello:v1"); out != "wasmpod.local/hello:v1\n" {
		t.Fatalf("image import: %q", out)
	}
	k := newKubectlUser(t, kc)
	on := `--overrides={"spec":{"nodeSelector":{"kubernetes.io/hostname":"mod-1"}}}`
	k.must(t, "run", "hi", "--image=wasmpod.local/hello:v1", "--restart=Never", on, "--", "x", "y")
	p := s.waitPod(t, "hi", "Succeeded", phaseIs(corev1.PodSucceeded))
	if p.Spec.NodeName != "mod-1" {
		t.Fatalf("hi ran on %q", p.Spec.NodeName)
	}
	if out := k.must(t, "logs", "hi"); out != "hello from an unnamed pod\nargs: x y\n" {
		t.Errorf("kubectl logs hi: %q", out)
	}
	// The module is in the agent's own store now.
	blobs, _ := os.ReadDir(filepath.Join(data, "modules", "blobs", "sha256"))
	if len(blobs) != 1 {
		t.Errorf("the agent's module store holds %d modules, want 1", len(blobs))
	}
	// v1 retagged to another module at serve: the next pod runs it.
	mustClient(t, env, binPath, "image", "import", "go://./wasm-examples/testguests/tar", "hello:v1")
	k.must(t, "run", "retagged", "--image=wasmpod.local/hello:v1", "--restart=Never", on, "--", "--help")
	var st corev1.ContainerStatus
	s.waitPod(t, "retagged", "started", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 1 {
			st = p.Status.ContainerStatuses[0]
		}
		return st.ImageID != "" && (st.State.Terminated != nil || st.State.Running != nil)
	})
	if first := p.Status.ContainerStatuses[0].ImageID; st.ImageID == first {
		t.Errorf("the retagged image ran the old module %s", first)
	}
	// A tag serve does not have.
	k.must(t, "run", "nope", "--image=wasmpod.local/nope:v2", "--restart=Never", on)
	s.waitPod(t, "nope", "ErrImagePull", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, "nope")
	})
}

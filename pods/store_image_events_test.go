package pods

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// storeSource is the control plane's module store as a node agent sees
// it (nodeagent/modules.go serves the same interface over the API).
type storeSource struct {
	s       *images.Store
	fetches atomic.Int32
}

func (s *storeSource) Lookup(_ context.Context, name, tag string) (string, error) {
	return s.s.Lookup(name, tag)
}

func (s *storeSource) Fetch(_ context.Context, digest string) (io.ReadCloser, error) {
	s.fetches.Add(1)
	b, err := s.s.Get(digest)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// TestStoreImageEvents: a wasmpod.local module is an image of the node's
// module store. As the kubelet's image manager with IfNotPresent, the
// first pod on a node whose store lacks it pulls it from the control
// plane's store (Pulling, then "Successfully pulled", one pull in the
// pull metrics); every later pod finds it present ("already present on
// machine", no Pulling event, no pull counted).
func TestStoreImageEvents(t *testing.T) {
	mod := testwasm.Build(t, filepath.Join(examplesDir(t), "hello"))
	src, err := images.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest, _, err := src.Put(context.Background(), "", bytes.NewReader(mod))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Tag("hello", "v1", digest); err != nil {
		t.Fatal(err)
	}
	node, err := images.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	source := &storeSource{s: src}
	h := newAgentHarness(t)
	h.pcfg.Images = &images.Resolver{Store: node, StoreSource: source}
	var pulls atomic.Int32
	h.pcfg.OnImagePull = func(_ time.Duration, size int, err error) {
		if err == nil && size == len(mod) {
			pulls.Add(1)
		}
	}
	h.start()
	ref := "wasmpod.local/hello:v1"
	for i, want := range [][]string{
		{"Pulling", "Pulled", "Created", "Started"},
		{"Pulled", "Created", "Started"},
	} {
		name := fmt.Sprintf("hello-%d", i)
		pod := loadPod(t, "hello")
		pod.Name, pod.UID = name, types.UID("uid-"+name)
		pod.Spec.Containers[0].Image = ref
		pod.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
		h.createPod(pod)
		h.waitPod(name, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
		h.eventually(name+"'s events", func() (bool, string) {
			return slices.Equal(h.events(name), want), fmt.Sprint(h.events(name))
		})
		list, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantMsg := fmt.Sprintf("Container image %q already present on machine and can be accessed by the pod", ref)
		for _, e := range list.Items {
			if e.InvolvedObject.Name != name || e.Reason != "Pulled" {
				continue
			}
			if (i == 0) == (e.Message == wantMsg) {
				t.Errorf("pod %d: Pulled %q", i, e.Message)
			}
		}
	}
	if n := source.fetches.Load(); n != 1 {
		t.Errorf("%d fetches from the control plane's store; want 1", n)
	}
	if n := pulls.Load(); n != 1 {
		t.Errorf("%d pulls observed; want 1", n)
	}
}

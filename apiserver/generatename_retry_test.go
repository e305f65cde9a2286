package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// suffixes hands out the given generateName suffixes in turn, then "zzzzz".
type suffixes struct{ next []string }

func (g *suffixes) GenerateName(base string) string {
	if len(g.next) == 0 {
		return base + "zzzzz"
	}
	s := g.next[0]
	g.next = g.next[1:]
	return base + s
}

// TestCreateRetriesTakenGeneratedName: a generated name that is taken is
// generated again, 8 tries in all (upstream's RetryGenerateName, KEP-4420,
// GA in v1.32: 5 random characters collide with 50% odds within ~5,000
// names); after 8 taken names the 409 AlreadyExists reaches the client.
func TestCreateRetriesTakenGeneratedName(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	for _, n := range []string{"web-aaaaa", "web-bbbbb"} {
		if _, err := s.Create(ctx, pods, "default", testPod(n)); err != nil {
			t.Fatal(err)
		}
	}
	s.nameGen = &suffixes{next: []string{"aaaaa", "bbbbb", "aaaaa", "ccccc"}}
	p := testPod("")
	p.GenerateName = "web-"
	obj, err := s.Create(ctx, pods, "default", p)
	if err != nil {
		t.Fatalf("create after 3 taken names: %v", err)
	}
	if got := obj.(*corev1.Pod).Name; got != "web-ccccc" {
		t.Fatalf("name %q, want web-ccccc (the 4th try)", got)
	}

	taken := make([]string, 8)
	for i := range taken {
		taken[i] = "aaaaa"
	}
	s.nameGen = &suffixes{next: append(taken, "ddddd")}
	if _, err := s.Create(ctx, pods, "default", p); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("8 taken names: got %v, want AlreadyExists", err)
	}
	if _, err := s.Get(ctx, pods, "default", "web-ddddd"); !apierrors.IsNotFound(err) {
		t.Fatalf("a 9th try was made: %v", err)
	}
	// An explicit name is never retried.
	s.nameGen = nil
	if _, err := s.Create(ctx, pods, "default", testPod("web-bbbbb")); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("explicit taken name: got %v, want AlreadyExists", err)
	}
}

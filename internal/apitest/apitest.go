// Package apitest serves a real wasmpod API server (memory store) for a
// test's life: the controllers' and the node agent's unit tests run
// against it instead of a fake clientset.
package apitest

import (
	"context"
	"testing"

	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

// Client serves an API server on a memory store, with clk as its clock
// (nil: the real one), until the test ends, and returns an in-process
// client of it.
func Client(t testing.TB, clk clock.PassiveClock) kubernetes.Interface {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	t.Cleanup(func() { cancel(); st.Close() })
	s, err := apiserver.New(ctx, st, apiserver.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

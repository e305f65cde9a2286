package wasmpod_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
)

// Run a pod of WASM modules from a Kubernetes manifest on an in-process
// control plane with one node, wait for it to finish and read its log.
func Example() {
	ctx := context.Background()
	c, err := wasmpod.New(ctx, wasmpod.Config{}) // memory store, one node
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	pods, err := wasmpod.LoadFile("wasm-examples/hello/pod.yaml", wasmpod.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Apply(ctx, pods[0]); err != nil {
		log.Fatal(err)
	}
	pod, err := c.WaitPod(ctx, "default", "hello", wasmpod.PodTerminal)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pod.Status.Phase, "on", pod.Spec.NodeName)

	var out bytes.Buffer
	if err := c.Logs(ctx, "default", "hello", &corev1.PodLogOptions{}, &out); err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())
	// Output:
	// Succeeded on node-1
	// hello from hello
	// args: a b
}

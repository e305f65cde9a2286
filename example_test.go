package wasmpod_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// The README's embedding example: a pod from a YAML string, a command
// run in its sandbox, its log, and a graceful stop.
func Example_embedding() {
	ctx := context.Background()
	c, err := wasmpod.New(ctx, wasmpod.Config{Nodes: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	const manifest = `
apiVersion: v1
kind: Pod
metadata:
  name: notes
spec:
  terminationGracePeriodSeconds: 5
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: toolbox
    image: go://./wasm-examples/toolbox   # relative to the base directory below
    volumeMounts:
    - name: data
      mountPath: /data
`
	pods, err := wasmpod.LoadBytes([]byte(manifest), "notes.yaml", ".", wasmpod.LoadOptions{})
	if err != nil {
		log.Fatal(err) // names the file, document and field of a bad manifest
	}
	if _, err := c.Apply(ctx, pods[0]); err != nil {
		log.Fatal(err)
	}
	if _, err := c.WaitPod(ctx, "default", "notes", wasmpod.PodRunning); err != nil {
		log.Fatal(err)
	}

	// A new instance of the container's module, in the pod's sandbox.
	code, err := c.Exec(ctx, "default", "notes",
		&corev1.PodExecOptions{Command: []string{"toolbox", "tee", "/data/notes.txt"}, Stdin: true},
		wasmpod.ExecStreams{Stdin: strings.NewReader("written through exec\n"), Stdout: io.Discard})
	if err != nil || code != 0 {
		log.Fatal(code, err)
	}
	var out bytes.Buffer
	if _, err := c.Exec(ctx, "default", "notes",
		&corev1.PodExecOptions{Command: []string{"toolbox", "cat", "/data/notes.txt"}, Stdout: true},
		wasmpod.ExecStreams{Stdout: &out}); err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())

	// The container's own output.
	var logs bytes.Buffer
	if err := c.Logs(ctx, "default", "notes", &corev1.PodLogOptions{}, &logs); err != nil {
		log.Fatal(err)
	}
	fmt.Print(logs.String())

	// Delete terminates the pod gracefully: TERM, then a kill when its
	// grace period ends (Close does the same for every pod left).
	if err := c.Delete(ctx, "pods", "default", "notes", metav1.DeleteOptions{}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// written through exec
	// toolbox ready
}

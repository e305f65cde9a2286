package pods

// Runtime handlers: a pod's spec.runtimeClassName picks the engine that
// runs its containers, through the RuntimeClass's handler, as the kubelet
// resolves it when it creates the pod's sandbox
// (runtimeclass.Manager.LookupRuntimeHandler, then RunPodSandbox with the
// handler). A pod without one runs on Config.Engine, the node's default
// handler. The handler is resolved with the rest of the sandbox
// (agent_net_sandbox.go): a RuntimeClass that does not exist, or whose
// handler this node does not have (a build without -tags wasmtime asked
// for "wasmtime"), fails the sandbox: the Warning event
// FailedCreatePodSandBox ("Failed to create pod sandbox: ..."), the pod
// Pending with its containers Waiting in ContainerCreating, and a retry
// after the sandbox back-off, so a RuntimeClass created later is picked
// up.

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/runtime"
)

// Handlers are the runtime handlers of the node: the default engine's,
// then those of cfg.Engines, sorted, each once.
func (cfg *Config) Handlers() []string {
	var out []string
	if cfg.Engine != nil {
		out = append(out, cfg.Engine.Name())
	}
	var more []string
	for h := range cfg.Engines {
		if cfg.Engine == nil || h != cfg.Engine.Name() {
			more = append(more, h)
		}
	}
	sort.Strings(more)
	return append(out, more...)
}

// engineFor returns the engine of a runtime handler of this node.
func (cfg *Config) engineFor(handler string) (runtime.Engine, bool) {
	if e, ok := cfg.Engines[handler]; ok && e != nil {
		return e, true
	}
	if cfg.Engine != nil && (handler == "" || handler == cfg.Engine.Name()) {
		return cfg.Engine, true
	}
	return nil, false
}

// resolveRuntime sets the engine of the pod from its RuntimeClass.
func (w *Worker) resolveRuntime(ctx context.Context) error {
	name := w.state.pod.Spec.RuntimeClassName
	if name == nil || *name == "" {
		w.setEngine(w.cfg.Engine)
		return nil
	}
	if w.cfg.RuntimeClasses == nil {
		return fmt.Errorf("RuntimeClass %q: node %s cannot read RuntimeClasses", *name, w.cfg.NodeName)
	}
	rc, err := w.cfg.RuntimeClasses(ctx, *name)
	if err != nil {
		return err // the API's NotFound: runtimeclasses.node.k8s.io "x" not found
	}
	eng, ok := w.cfg.engineFor(rc.Handler)
	if !ok {
		return fmt.Errorf("RuntimeHandler %q not supported (node %s has %s)", rc.Handler, w.cfg.NodeName, strings.Join(w.cfg.Handlers(), ", "))
	}
	w.setEngine(eng)
	return nil
}

func (w *Worker) setEngine(e runtime.Engine) {
	w.mu.Lock()
	w.eng = e
	w.mu.Unlock()
}

// engine is the pod's engine (the default one until its sandbox resolved
// its RuntimeClass).
func (w *Worker) engine() runtime.Engine {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.eng != nil {
		return w.eng
	}
	return w.cfg.Engine
}

// runtimeHandlers is node.status.runtimeHandlers: one entry per handler,
// without the optional features (recursive read-only mounts, user
// namespaces), which no engine has.
func (cfg *Config) runtimeHandlers() []corev1.NodeRuntimeHandler {
	var out []corev1.NodeRuntimeHandler
	for _, h := range cfg.Handlers() {
		f := false
		out = append(out, corev1.NodeRuntimeHandler{Name: h, Features: &corev1.NodeRuntimeHandlerFeatures{
			RecursiveReadOnlyMounts: &f, UserNamespaces: &f,
		}})
	}
	return out
}

// runtimeVersion is node.status.nodeInfo.containerRuntimeVersion of the
// default engine: "<name>://<version>".
func (cfg *Config) runtimeVersion() string {
	if cfg.Engine == nil {
		return "wazero://" + wazeroVersion
	}
	v := "unknown"
	if ver, ok := cfg.Engine.(interface{ Version() string }); ok && ver.Version() != "" {
		v = ver.Version()
	} else if cfg.Engine.Name() == "wazero" {
		v = wazeroVersion
	}
	return cfg.Engine.Name() + "://" + v
}

// wazeroVersion is the wazero release wasmpod builds with (go.mod).
const wazeroVersion = "v1.12.0"

// getRuntimeClass is the node agent's RuntimeClasses: a get through the API.
func (a *Agent) getRuntimeClass(ctx context.Context, name string) (*nodev1.RuntimeClass, error) {
	return a.client.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
}

package pods

// env_config.go: the environment a container gets from ConfigMaps and
// Secrets (envFrom, configMapKeyRef, secretKeyRef), as the kubelet's
// makeEnvironmentVariables: envFrom sources first, in order, then env
// entries (which override them); a missing object or key fails the
// container with CreateContainerConfigError unless the reference is
// optional; envFrom keys that are not valid variable names are skipped
// with the InvalidEnvironmentVariableNames event.
//
// The objects are read through the API (Config.ConfigMaps/Secrets, which
// the node agent fills with client-go gets), so the node agent works
// against any API server.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
)

// configGetTimeout bounds one read of a ConfigMap or Secret.
const configGetTimeout = 30 * time.Second

// errSkipEnv: an optional reference whose object or key is missing; the
// variable is left out.
var errSkipEnv = errors.New("optional reference is missing")

// configMap reads a ConfigMap of the pod's namespace. A missing one gives
// the kubelet's error (`configmap "x" not found`), which wraps a NotFound
// API status.
func (w *Worker) configMap(name string) (*corev1.ConfigMap, error) {
	if w.cfg.ConfigMaps == nil {
		return nil, fmt.Errorf("couldn't get configMap %s/%s, no kubeClient defined", w.state.pod.Namespace, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), configGetTimeout)
	defer cancel()
	cm, err := w.cfg.ConfigMaps(ctx, w.state.pod.Namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, &notFound{kind: "configmap", name: name, err: err}
	}
	return cm, err
}

// secret reads a Secret of the pod's namespace (see configMap).
func (w *Worker) secret(name string) (*corev1.Secret, error) {
	if w.cfg.Secrets == nil {
		return nil, fmt.Errorf("couldn't get secret %s/%s, no kubeClient defined", w.state.pod.Namespace, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), configGetTimeout)
	defer cancel()
	s, err := w.cfg.Secrets(ctx, w.state.pod.Namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, &notFound{kind: "secret", name: name, err: err}
	}
	return s, err
}

// notFound words a missing object as the kubelet's object caches do.
type notFound struct {
	kind, name string
	err        error
}

func (e *notFound) Error() string { return fmt.Sprintf("%s %q not found", e.kind, e.name) }
func (e *notFound) Unwrap() error { return e.err }

// envFrom sets the variables of c's envFrom sources in ev, in order,
// until they pass its bound (env_bound.go).
func (w *Worker) envFrom(c *corev1.Container, ev *envVars) error {
	ns := w.state.pod.Namespace
	for _, ef := range c.EnvFrom {
		if ev.over {
			return ev.err()
		}
		var kind, name string
		data := map[string]string{}
		switch {
		case ef.ConfigMapRef != nil:
			kind, name = "configMap", ef.ConfigMapRef.Name
			cm, err := w.configMap(name)
			if err != nil {
				if apierrors.IsNotFound(err) && ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional {
					continue
				}
				return err
			}
			data = cm.Data
		case ef.SecretRef != nil:
			kind, name = "secret", ef.SecretRef.Name
			s, err := w.secret(name)
			if err != nil {
				if apierrors.IsNotFound(err) && ef.SecretRef.Optional != nil && *ef.SecretRef.Optional {
					continue
				}
				return err
			}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		default:
			continue
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var invalid []string
		for _, k := range keys {
			name := ef.Prefix + k
			if len(validation.IsEnvVarName(name)) != 0 || strings.IndexByte(data[k], 0) >= 0 {
				invalid = append(invalid, name)
				continue
			}
			ev.set(name, data[k])
		}
		if len(invalid) > 0 {
			w.event(corev1.EventTypeWarning, "InvalidEnvironmentVariableNames",
				fmt.Sprintf("Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
					strings.Join(invalid, ", "), kind, ns, name))
		}
	}
	return nil
}

// keyRefValue resolves a configMapKeyRef or secretKeyRef; errSkipEnv when
// an optional reference is missing.
func (w *Worker) keyRefValue(src *corev1.EnvVarSource) (string, error) {
	ns := w.state.pod.Namespace
	switch {
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := w.configMap(ref.Name)
		if err != nil {
			if optional && apierrors.IsNotFound(err) {
				return "", errSkipEnv
			}
			return "", err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", errSkipEnv
			}
			return "", fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, ns, ref.Name)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := w.secret(ref.Name)
		if err != nil {
			if optional && apierrors.IsNotFound(err) {
				return "", errSkipEnv
			}
			return "", err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", errSkipEnv
			}
			return "", fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, ns, ref.Name)
		}
		return string(v), nil
	}
	return "", fmt.Errorf("valueFrom has no source")
}

// subPathExpr expands a volumeMount's subPathExpr from the container's
// environment as the kubelet does (ExpandContainerVolumeMounts: a
// reference to a variable that is undefined or empty is an error naming
// them all), then checks the result as makeMounts does (checkSubPath,
// subpath.go), with the kubelet's messages.
func subPathExpr(expr string, lookup func(string) (string, bool)) (string, error) {
	missing := map[string]bool{}
	p, ok := expandBounded(expr, func(k string) (string, bool) { // env_bound.go
		v, ok := lookup(k)
		if !ok || v == "" {
			missing[k] = true
		}
		return v, true
	}, maxSubPathBytes)
	if !ok {
		return "", fmt.Errorf("subPathExpr after $(VAR) expansion exceeds %d bytes", maxSubPathBytes)
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("missing value for %s", strings.Join(slices.Sorted(maps.Keys(missing)), ", "))
	}
	if err := checkSubPath(p); err != nil {
		return "", err
	}
	return p, nil
}

func hasDotDot(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

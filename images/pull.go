package images

// pull.go: a container's OCI image pull as the kubelet's image manager
// does it (EnsureImageExists): the pull policy, the pod's imagePullSecrets,
// and the events Pulling / Pulled / "already present" /
// FailedToRetrieveImagePullSecret.

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PodPull is one container's pull.
type PodPull struct {
	Ref    string // the container's image
	Policy string // its imagePullPolicy ("" = the API's default)
	// Secrets holds the docker configs (PullSecretData) of the pod's
	// imagePullSecrets that could be read, in order; Missing names those
	// that could not.
	Secrets [][]byte
	Missing []string
	// Event records a pod event (type Normal or Warning, reason, message).
	Event func(eventType, reason, message string)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Observe, when set, is told of each pull from the registry (not of an
	// image the store has): how long it took, the module's size, and its
	// error (nil for a success).
	Observe func(d time.Duration, size int, err error)
}

// PullForPod resolves p.Ref, an OCI reference, through resolve (a
// Resolver's Resolve, or a memo of it) with p's policy and secrets,
// recording the kubelet's events.
func PullForPod(ctx context.Context, resolve ResolveFunc, p PodPull) (*Image, error) {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	event := p.Event
	if event == nil {
		event = func(string, string, string) {}
	}
	if len(p.Missing) > 0 {
		event("Warning", "FailedToRetrieveImagePullSecret", fmt.Sprintf(
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(p.Missing, ", ")))
	}
	kc, _ := SecretKeychain(p.Secrets) // a malformed secret is skipped, as the kubelet's keyring does
	start := now()
	var pullStart time.Time
	pulled := false
	ctx = WithPullOptions(ctx, PullOptions{Policy: p.Policy, Keychain: kc, OnPull: func() {
		pulled, pullStart = true, now()
		event("Normal", "Pulling", fmt.Sprintf("Pulling image %q", p.Ref))
	}})
	img, err := resolve(ctx, p.Ref, "")
	if err != nil {
		if pulled && p.Observe != nil {
			p.Observe(now().Sub(pullStart), 0, err)
		}
		return nil, err
	}
	if !pulled {
		event("Normal", "Pulled", fmt.Sprintf("Container image %q already present on machine and can be accessed by the pod", p.Ref))
		return img, nil
	}
	end := now()
	if p.Observe != nil {
		p.Observe(end.Sub(pullStart), len(img.Bytes), nil)
	}
	event("Normal", "Pulled", fmt.Sprintf("Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.",
		p.Ref, roundPull(end.Sub(pullStart)), roundPull(end.Sub(start)), len(img.Bytes)))
	return img, nil
}

func roundPull(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// PullSecretData returns the docker config of a Secret's data:
// .dockerconfigjson (kubernetes.io/dockerconfigjson), else .dockercfg
// (kubernetes.io/dockercfg); nil when it has neither.
func PullSecretData(data map[string][]byte) []byte {
	if b, ok := data[".dockerconfigjson"]; ok {
		return b
	}
	return data[".dockercfg"]
}

// Argv applies the image's Entrypoint and Cmd to a container without a
// command, as the kubelet does: the Entrypoint (its first element, the
// module's path in the layer, becomes argv[0]), then the container's args
// (argv[1:], already expanded) or, when it has none, the image's Cmd. With
// no Entrypoint, a Cmd stands for the whole command when the container
// has no args. argv is returned unchanged otherwise. The result is bounded
// by limit bytes (counted as execve does).
func (img *Image) Argv(argv []string, hasArgs bool, limit int) ([]string, error) {
	var out []string
	switch {
	case len(img.Entrypoint) > 0 && hasArgs:
		out = append(append(out, img.Entrypoint...), argv[min(1, len(argv)):]...)
	case len(img.Entrypoint) > 0:
		out = append(append(out, img.Entrypoint...), img.Cmd...)
	case len(img.Cmd) > 0 && !hasArgs:
		out = append(out, img.Cmd...)
	default:
		return argv, nil
	}
	n := 0
	for _, a := range out {
		n += len(a) + 1
	}
	if n > limit {
		return nil, fmt.Errorf("the image's entrypoint and command with the container's arguments are %d bytes, over %d", n, limit)
	}
	return out, nil
}

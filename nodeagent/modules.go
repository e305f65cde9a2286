package nodeagent

// modules.go: wasmpod.local images on an agent. The agent keeps its own
// module store (DATA-DIR/modules, images.Store) as a kubelet keeps its
// node's image store, and fills it from serve's module store through the
// API with its own credential, as a kubelet pulls from a registry: a
// tag is looked up at serve at each resolve (GET /wasmpod/tags/NAME:TAG),
// a module it lacks is fetched once (GET /wasmpod/modules/DIGEST with
// Accept: application/wasm) and checked against its digest. `wasmpod
// image import` and `wasmpod apply` upload to serve as before; nothing is
// imported on the agent itself. The node authorizer lets a node read both
// paths (apiserver/node_authz.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/images"
)

// The module store API's paths (apiserver/modules.go).
const (
	modulesAPIPath = "/wasmpod/modules/"
	tagsAPIPath    = "/wasmpod/tags/"
)

// apiModules is serve's module store, read through the API
// (images.StoreSource).
type apiModules struct{ rest rest.Interface }

func (m apiModules) Lookup(ctx context.Context, name, tag string) (string, error) {
	b, err := m.rest.Get().AbsPath(tagsAPIPath+name+":"+tag).SetHeader("Accept", "application/json").Do(ctx).Raw()
	if err != nil {
		return "", fmt.Errorf("the control plane's module store: %s:%s: %w", name, tag, unknown(err))
	}
	var info struct {
		Digest string `json:"digest"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.Digest == "" {
		return "", fmt.Errorf("the control plane's module store: %s:%s: no digest in its answer", name, tag)
	}
	return info.Digest, nil
}

func (m apiModules) Fetch(ctx context.Context, digest string) (io.ReadCloser, error) {
	rc, err := m.rest.Get().AbsPath(modulesAPIPath+digest).SetHeader("Accept", "application/wasm").Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("the control plane's module store: %w", unknown(err))
	}
	return rc, nil
}

// unknown is err, wrapping images.ErrUnknown when the API server has no
// such tag or module for this node (404), or no module store it lets a
// node read (403: a kube-apiserver's node authorizer refuses the
// non-resource path), so that the toolbox alias falls back to its source
// tree as without a store (images.ResolveToolbox); the message keeps the
// API server's answer.
func unknown(err error) error {
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return fmt.Errorf("%w: %w", images.ErrUnknown, err)
	}
	return err
}

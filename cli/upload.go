package cli

// upload.go: apply and create resolve the images that only this client can
// resolve (relative paths, relative file:// URLs and go:// packages: the
// files are the manifest's neighbours, not the server's) with the local
// toolchain, upload each module to the server's module store once (HEAD
// first, so an unchanged module is not sent again) and rewrite the image to
// wasmpod.local/NAME@sha256:<hex> before the object is sent. A server
// without a module store (or an image that cannot be resolved here) gets
// the reference as written, with the manifest's directory in the
// wasmpod.io/manifest-dir annotation, as before: a server on this machine
// resolves it there.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/pods"
)

// cacheDirFlag is where apply, create and image import build go:// images.
func cacheDirFlag() cmdline.Flag {
	return &cmdline.StringFlag{Name: "cache-dir", EnvVars: []string{"WASMPOD_CACHE_DIR"}, Usage: "directory for go:// images built on this machine", Value: wasmpod.DefaultCacheDir(), DefaultText: "$XDG_CACHE_HOME/wasmpod"}
}

// errNoModuleStore: the server does not serve /wasmpod/modules/.
var errNoModuleStore = errors.New("the server has no module store")

// uploader resolves, uploads and remembers modules for one command.
type uploader struct {
	k        *conn
	resolver *images.Resolver
	progress io.Writer
	// noStore: the server said it has no module store; stop asking.
	noStore bool
	// remote: the server is reached over TCP, and may not see this
	// machine's files: an image left as written gets a warning.
	remote bool
	// done maps a reference and its base directory to its rewritten image.
	done map[[2]string]string
	// present: digests known to be in the server's store.
	present map[string]bool
}

func newUploader(c *cmdline.Context, k *conn) *uploader {
	return &uploader{
		k:        k,
		resolver: &images.Resolver{CacheDir: filepath.Join(c.String("cache-dir"), "images"), Progress: c.App.ErrWriter},
		progress: c.App.ErrWriter,
		remote:   strings.HasPrefix(k.server, "http"),
		done:     map[[2]string]string{},
		present:  map[string]bool{},
	}
}

// podSpecPaths are the paths of the pod specs in an object of kind.
func podSpecPath(kind string) (spec, annotations []string) {
	switch kind {
	case "Pod":
		return []string{"spec"}, []string{"metadata", "annotations"}
	case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "ReplicationController":
		return []string{"spec", "template", "spec"}, []string{"spec", "template", "metadata", "annotations"}
	case "PodTemplate":
		return []string{"template", "spec"}, []string{"template", "metadata", "annotations"}
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template", "spec"}, []string{"spec", "jobTemplate", "spec", "template", "metadata", "annotations"}
	}
	return nil, nil
}

// prepare rewrites the relative images of mo's pod spec to uploaded
// store images; what it cannot upload keeps the manifest's directory in
// the manifest-dir annotation (unless the manifest set one).
func (u *uploader) prepare(ctx context.Context, mo manifestObject) error {
	specPath, annPath := podSpecPath(mo.obj.GetKind())
	if specPath == nil {
		return nil
	}
	ann, _, _ := unstructured.NestedStringMap(mo.obj.Object, annPath...)
	base, set := ann[pods.AnnotationManifestDir]
	if !set {
		base = mo.dir
	}
	left := false // a relative image is left for the server
	for _, list := range []string{"initContainers", "containers"} {
		ctrs, found, _ := unstructured.NestedSlice(mo.obj.Object, append(specPath, list)...)
		if !found {
			continue
		}
		changed := false
		for i, c := range ctrs {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			ref, _ := cm["image"].(string)
			if !isLocalRef(ref) {
				continue
			}
			img, err := u.upload(ctx, ref, base)
			if err != nil {
				if errors.Is(err, errNoModuleStore) || errors.As(err, new(*images.Error)) {
					// Left as written: the server resolves it, or says why not.
					left = left || images.IsRelative(ref)
					if u.remote && !errors.Is(err, errNoModuleStore) {
						fmt.Fprintf(u.progress, "Warning: %s: %s/%s: %s.%s[%d].image: %v; sent as written\n", mo.source, mo.obj.GetKind(), mo.obj.GetName(), strings.Join(specPath, "."), list, i, err)
					}
					continue
				}
				return fmt.Errorf("%s: %s/%s: %s.%s[%d].image: %w", mo.source, mo.obj.GetKind(), mo.obj.GetName(), strings.Join(specPath, "."), list, i, err)
			}
			cm["image"] = img
			changed = true
		}
		if changed {
			if err := unstructured.SetNestedSlice(mo.obj.Object, ctrs, append(specPath, list)...); err != nil {
				return err
			}
		}
	}
	if left && !set {
		setManifestDir(mo.obj, mo.dir)
	}
	return nil
}

// isLocalRef reports whether ref names a module of this machine: a path,
// a file:// URL or a go:// package (not a store or an OCI reference).
func isLocalRef(ref string) bool {
	switch {
	case strings.HasPrefix(ref, "go://"), strings.HasPrefix(ref, "file://"):
		return true
	case strings.Contains(ref, "://"), images.IsStoreRef(ref):
		return false
	}
	return images.IsRelative(ref) || filepath.IsAbs(ref) && strings.HasSuffix(strings.ToLower(ref), ".wasm")
}

// upload resolves ref against base, makes sure the server's store has
// the module and returns wasmpod.local/NAME@DIGEST.
func (u *uploader) upload(ctx context.Context, ref, base string) (string, error) {
	if u.noStore {
		return "", errNoModuleStore
	}
	key := [2]string{ref, base}
	if img, ok := u.done[key]; ok {
		return img, nil
	}
	img, err := u.resolver.Resolve(ctx, ref, base)
	if err != nil {
		return "", err
	}
	if err := u.ensure(ctx, ref, img); err != nil {
		return "", err
	}
	out := images.StoreRef{Name: images.NameFor(ref, base), Digest: img.Digest}.String()
	u.done[key] = out
	return out, nil
}

// restClient is a client for the server's non-Kubernetes paths.
func (k *conn) restClient() rest.Interface { return k.cs.CoreV1().RESTClient() }

// ensure uploads img unless the server has it already.
func (u *uploader) ensure(ctx context.Context, ref string, img *images.Image) error {
	if u.present[img.Digest] {
		return nil
	}
	rc := u.k.restClient()
	path := apiserver.ModulesPath + img.Digest
	err := rc.Verb("HEAD").AbsPath(path).Do(ctx).Error()
	if err == nil {
		u.present[img.Digest] = true
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	stop := images.Ticker(u.progress, fmt.Sprintf("Uploading %s (%s)", ref, humanBytes(len(img.Bytes))))
	res := rc.Put().AbsPath(path).SetHeader("Content-Type", "application/octet-stream").Body(img.Bytes).Do(ctx)
	stop()
	if err := res.Error(); err != nil {
		if apierrors.IsNotFound(err) {
			u.noStore = true
			return errNoModuleStore
		}
		return fmt.Errorf("uploading %s: %w", ref, err)
	}
	u.present[img.Digest] = true
	return nil
}

// tag points NAME:TAG at digest in the server's store.
func (u *uploader) tag(ctx context.Context, name, tag, digest string) (apiserver.TagInfo, error) {
	body, _ := json.Marshal(apiserver.TagInfo{Digest: digest})
	raw, err := u.k.restClient().Put().AbsPath(apiserver.TagsPath+name+":"+tag).SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Raw()
	var info apiserver.TagInfo
	if err != nil {
		return info, err
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&info); err != nil {
		return info, fmt.Errorf("tagging %s:%s: %v", name, tag, err)
	}
	return info, nil
}

func humanBytes(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

package images

// oci_build.go: packing a module as a wasm OCI artifact (wasmpod image
// build) and pushing a stored image to a registry (wasmpod image push).

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// wasmArtifactConfig is the wasm OCI artifact's config
// (application/vnd.wasm.config.v0+json).
type wasmArtifactConfig struct {
	Created      time.Time `json:"created"`
	Architecture string    `json:"architecture"`
	OS           string    `json:"os"`
	LayerDigests []string  `json:"layerDigests"`
}

// artifact is a v1.Image whose config is the wasm artifact's.
type artifact struct {
	config []byte
	layer  v1.Layer
}

func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *artifact) RawManifest() ([]byte, error) {
	ld, err := a.layer.Digest()
	if err != nil {
		return nil, err
	}
	size, _ := a.layer.Size()
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: MediaTypeWasmConfig, Size: int64(len(a.config)),
			Digest: v1.Hash{Algorithm: "sha256", Hex: Digest(a.config)[len("sha256:"):]}},
		Layers: []v1.Descriptor{{MediaType: MediaTypeWasmLayer, Size: size, Digest: ld}},
	}
	return json.Marshal(m)
}
func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if ld, _ := a.layer.Digest(); ld == h {
		return a.layer, nil
	}
	return nil, fmt.Errorf("no layer %s", h)
}

// WasmArtifact packs module as a wasm OCI artifact: config
// application/vnd.wasm.config.v0+json, one application/wasm layer.
func WasmArtifact(module []byte, created time.Time) (v1.Image, error) {
	if err := checkWasm(module); err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotModule, err)
	}
	layer := static.NewLayer(module, MediaTypeWasmLayer)
	cfg, err := json.Marshal(wasmArtifactConfig{Created: created.UTC(), Architecture: "wasm", OS: "wasip1",
		LayerDigests: []string{Digest(module)}})
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&artifact{config: cfg, layer: layer})
}

// BuildArtifact packs module as a wasm OCI artifact, stores the module and
// records ref (REGISTRY/REPO[:TAG]) as that image in the store's index. It
// returns the image ID (REPO@sha256:<manifest>).
func (s *Store) BuildArtifact(ctx context.Context, ref string, module []byte) (string, error) {
	nref, err := ParseOCIRef(ref)
	if err != nil {
		return "", fmt.Errorf("invalid reference %q: %v", ref, err)
	}
	// One creation time for the artifact and its record: Push packs the
	// same artifact again from them.
	created := time.Now().UTC().Truncate(time.Second)
	img, err := WasmArtifact(module, created)
	if err != nil {
		return "", err
	}
	md, err := img.Digest()
	if err != nil {
		return "", err
	}
	digest, _, err := s.putLocal(ctx, Digest(module), bytes.NewReader(module))
	if err != nil {
		return "", err
	}
	if err := s.RecordOCIImage(nref.Name(), md.String(), digest, created); err != nil {
		return "", err
	}
	return ociImageID(nref.Context().Name(), md.String()), nil
}

// Push pushes the stored image ref (as `wasmpod images` lists it) to its
// registry, or to dest when dest is not "": a pulled image as it was pulled
// (the same manifest, config and layer, so the same digest), an image
// built here (or pulled before its source was kept) as a wasm OCI
// artifact. The
// progress callback, when set, is given bytes sent. It returns the pushed
// manifest's digest.
func (r *Resolver) Push(ctx context.Context, ref, dest string, kc authn.Keychain, progress func(done, total int64)) (string, error) {
	if r.Store == nil {
		return "", fmt.Errorf("no module store")
	}
	im, ok := r.Store.FindOCIImage(ref)
	if !ok {
		return "", fmt.Errorf("%w: no image %s", ErrUnknown, ref)
	}
	var img v1.Image
	var err error
	if im.source != nil {
		// Pulled: pushed as it was pulled (oci_source.go).
		if img, err = r.Store.sourceImage(im.source, im.Module); err != nil {
			return "", fmt.Errorf("reading %s from the store: %v", ref, err)
		}
	} else {
		b, err := r.Store.Get(im.Module)
		if err != nil {
			return "", err
		}
		if img, err = WasmArtifact(b, im.Created); err != nil {
			return "", err
		}
	}
	if dest == "" {
		dest = im.Ref
	}
	cfg := r.registry()
	nref, err := cfg.parseRef(dest)
	if err != nil {
		return "", fmt.Errorf("invalid reference %q: %v", dest, err)
	}
	opts := cfg.remoteOptions(ctx, kc)
	var updates chan v1.Update
	done := make(chan struct{})
	if progress != nil {
		updates = make(chan v1.Update, 16)
		opts = append(opts, remote.WithProgress(updates))
		go func() {
			defer close(done)
			for u := range updates {
				progress(u.Complete, u.Total)
			}
		}()
	} else {
		close(done)
	}
	err = remote.Write(nref, img, opts...)
	<-done
	if err != nil {
		return "", fmt.Errorf("pushing %s: %v", nref, err)
	}
	md, err := img.Digest()
	if err != nil {
		return "", err
	}
	return md.String(), nil
}

// ContainerImage is a helper for tests and tools: a single-layer
// container image whose tar holds module at path, with entrypoint.
func ContainerImage(module []byte, path string, entrypoint []string, gzipLayer bool) (v1.Image, error) {
	var buf bytes.Buffer
	if err := writeTar(&buf, path, module); err != nil {
		return nil, err
	}
	mt := types.OCIUncompressedLayer
	data := buf.Bytes()
	if gzipLayer {
		var z bytes.Buffer
		zw := newGzip(&z)
		if _, err := zw.Write(data); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		data, mt = z.Bytes(), types.OCILayer
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer: static.NewLayer(data, mt), MediaType: mt})
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = entrypoint
	cf.OS, cf.Architecture = "wasip1", "wasm"
	return mutate.ConfigFile(img, cf)
}

func writeTar(w io.Writer, name string, b []byte) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(b); err != nil {
		return err
	}
	return tw.Close()
}

func newGzip(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }

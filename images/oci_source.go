package images

// oci_source.go: what a pulled image was, kept so that `wasmpod image push`
// sends it unchanged (the same manifest digest). The index entry keeps the
// manifest and config bytes as pulled; its layer is the module blob itself
// for a wasm artifact, or, for a single-layer container image, the layer
// blob as the registry served it (compressed), kept in DIR/layers/sha256
// (in memory for a memory store) and counted in the store's usage. An
// image whose source is not kept (built here, pulled before, or over
// maxSourceInline) is pushed repacked as a wasm OCI artifact.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxSourceInline bounds the manifest and config bytes kept in oci.json.
const maxSourceInline = 1 << 20

// ociSource is a pulled image as its registry served it.
type ociSource struct {
	Manifest []byte `json:"manifest"` // its sha256 is the entry's Manifest
	Config   []byte `json:"config"`
	// Layer is the digest of the image's one layer: the module's own
	// blob (a wasm layer), or a blob of DIR/layers.
	Layer string `json:"layer"`
}

// recordSource sets e.Source from the pulled img, whose module is stored
// as e.Module and whose layer blob (a container image's, compressed) is
// layerBlob, storing that blob. An image of another shape keeps none.
func (s *Store) recordSource(ctx context.Context, e *ociEntry, img v1.Image, m *v1.Manifest, layerBlob []byte) error {
	if len(m.Layers) != 1 {
		return nil // a wasm artifact with other layers besides: repacked on push
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if len(raw)+len(cfg) > maxSourceInline || Digest(raw) != e.Manifest {
		return nil
	}
	layer := m.Layers[0].Digest.String()
	if layerBlob == nil {
		if layer != e.Module {
			return nil
		}
	} else if err := s.putLayer(ctx, layer, layerBlob); err != nil {
		return err
	}
	e.Source = &ociSource{Manifest: raw, Config: cfg, Layer: layer}
	return nil
}

func (s *Store) layerPath(digest string) string {
	return filepath.Join(s.dir, "layers", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// putLayer stores a layer blob whose digest is digest (checked).
func (s *Store) putLayer(ctx context.Context, digest string, b []byte) error {
	if err := ValidDigest(digest); err != nil {
		return err
	}
	if Digest(b) != digest {
		return fmt.Errorf("%w: layer blob is not %s", ErrDigestMismatch, digest)
	}
	if _, ok := s.hasLayer(digest); ok {
		return nil
	}
	if err := s.reserve(int64(len(b))); err != nil {
		return err
	}
	defer func() {
		s.mu.Lock()
		s.pending -= int64(len(b))
		s.mu.Unlock()
	}()
	if s.dir == "" {
		s.mu.Lock()
		if s.layers == nil {
			s.layers = map[string][]byte{}
		}
		if _, ok := s.layers[digest]; !ok {
			s.layers[digest] = b
			s.total += int64(len(b))
		}
		s.mu.Unlock()
		return nil
	}
	dir := filepath.Dir(s.layerPath(digest))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return storeIO(err)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "layer-*")
	if err != nil {
		return storeIO(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return storeIO(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return storeIO(err)
	}
	if err := tmp.Close(); err != nil {
		return storeIO(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, statErr := os.Stat(s.layerPath(digest))
	if err := os.Rename(tmp.Name(), s.layerPath(digest)); err != nil {
		return storeIO(err)
	}
	if statErr == nil && old.Mode().IsRegular() {
		s.total -= old.Size()
	}
	s.total += int64(len(b))
	syncDir(dir)
	return nil
}

func (s *Store) hasLayer(digest string) (int64, bool) {
	if s.dir == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		b, ok := s.layers[digest]
		return int64(len(b)), ok
	}
	st, err := os.Stat(s.layerPath(digest))
	if err != nil || !st.Mode().IsRegular() {
		return 0, false
	}
	return st.Size(), true
}

// getLayer reads a layer blob, verified against its digest.
func (s *Store) getLayer(digest string) ([]byte, error) {
	if err := ValidDigest(digest); err != nil {
		return nil, err
	}
	var b []byte
	if s.dir == "" {
		s.mu.Lock()
		b = s.layers[digest]
		s.mu.Unlock()
		if b == nil {
			return nil, fmt.Errorf("%w: no layer %s", ErrUnknown, digest)
		}
		return b, nil
	}
	f, err := os.Open(s.layerPath(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no layer %s", ErrUnknown, digest)
	}
	if err != nil {
		return nil, storeIO(err)
	}
	defer f.Close()
	if b, err = io.ReadAll(f); err != nil {
		return nil, storeIO(err)
	}
	if Digest(b) != digest {
		return nil, fmt.Errorf("module store: layer %s is corrupt", digest)
	}
	return b, nil
}

// removeLayer deletes a layer blob.
func (s *Store) removeLayer(digest string) error {
	return s.removeFile(true, digest)
}

// layersUsage is the bytes of DIR/layers (OpenStore's total).
func layersUsage(dir string) int64 {
	var n int64
	ents, _ := os.ReadDir(filepath.Join(dir, "layers", "sha256"))
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// sourceImage is the pulled image of src again, from the bytes kept:
// pushing it sends the same manifest, config and layer.
func (s *Store) sourceImage(src *ociSource, module string) (v1.Image, error) {
	var m v1.Manifest
	if err := json.Unmarshal(src.Manifest, &m); err != nil {
		return nil, fmt.Errorf("the kept manifest: %v", err)
	}
	if len(m.Layers) != 1 || m.Layers[0].Digest.String() != src.Layer {
		return nil, fmt.Errorf("the kept manifest does not name layer %s", src.Layer)
	}
	var b []byte
	var err error
	if src.Layer == module {
		b, err = s.Get(module)
	} else {
		b, err = s.getLayer(src.Layer)
	}
	if err != nil {
		return nil, err
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	return partial.CompressedToImage(&keptImage{src: src, mt: mt, layer: static.NewLayer(b, m.Layers[0].MediaType)})
}

// keptImage is a v1.Image served from an ociSource's bytes.
type keptImage struct {
	src   *ociSource
	mt    types.MediaType
	layer v1.Layer
}

func (k *keptImage) MediaType() (types.MediaType, error) { return k.mt, nil }
func (k *keptImage) RawManifest() ([]byte, error)        { return k.src.Manifest, nil }
func (k *keptImage) RawConfigFile() ([]byte, error)      { return k.src.Config, nil }
func (k *keptImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h.String() == k.src.Layer {
		return k.layer, nil
	}
	return nil, fmt.Errorf("no layer %s", h)
}

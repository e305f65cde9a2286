package images

// oci_index.go: the module store's index of OCI images, DIR/oci.json (in
// memory for a memory store): for each pulled (or built) reference, its
// manifest digest and the digest of its module blob in DIR/blobs/sha256.
// The file is replaced atomically (a temporary file renamed), as tags.json.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// ociEntry is one reference of the index.
type ociEntry struct {
	Ref        string    `json:"ref"`           // REGISTRY/REPO:TAG, or REGISTRY/REPO@sha256:H
	Repo       string    `json:"repo"`          // REGISTRY/REPO
	Tag        string    `json:"tag,omitempty"` // "" for a digest reference
	Manifest   string    `json:"manifest"`      // sha256 of the manifest: the image ID's digest
	Module     string    `json:"module"`        // the module blob
	Size       int64     `json:"size"`          // the module's size
	Created    time.Time `json:"created"`       // the image config's
	Pulled     time.Time `json:"pulled"`        // when pulled or built here
	LastUsed   time.Time `json:"lastUsed"`      // last resolve
	Entrypoint []string  `json:"entrypoint,omitempty"`
	Cmd        []string  `json:"cmd,omitempty"`
	// Source is the image as pulled, for a push that sends it unchanged
	// (oci_source.go); nil for an image built here.
	Source *ociSource `json:"source,omitempty"`

	layerBlob []byte // a container image's layer as pulled, until recordSource
}

// OCIImage describes an image of the OCI index (Store.OCIImages).
type OCIImage struct {
	Ref      string    // REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST
	Repo     string    // REGISTRY/REPO
	Tag      string    // "" for a digest reference
	ID       string    // REPO@sha256:<manifest>
	Manifest string    // sha256:<manifest digest>
	Module   string    // sha256:<module digest>
	Size     int64     // module bytes
	Created  time.Time // from the image config (zero when it has none)
	Pulled   time.Time
	LastUsed time.Time

	source *ociSource
}

type ociIndex struct {
	once  sync.Once
	mu    sync.Mutex
	m     map[string]*ociEntry // by Ref
	err   error                // loading oci.json
	stamp fs.FileInfo          // oci.json as last read or written
	// onPull, when set, is told of each image pulled (RunImageGC).
	onPull func(ref string)
}

// ociIndex returns the store's OCI index, loading it on first use and
// again whenever another process (wasmpod images, rmi, image build)
// replaced the file.
func (s *Store) ociIndex() *ociIndex {
	x := &s.oci
	x.once.Do(func() { x.m = map[string]*ociEntry{} })
	if s.dir != "" {
		x.refresh(s)
	}
	return x
}

// maxOCIIndex bounds the index file read.
const maxOCIIndex = 64 << 20

func (x *ociIndex) refresh(s *Store) {
	p := filepath.Join(s.dir, "oci.json")
	st, err := os.Stat(p)
	x.mu.Lock()
	defer x.mu.Unlock()
	if err != nil || (x.stamp != nil && sameStat(x.stamp, st)) {
		return
	}
	x.stamp = st
	m := map[string]*ociEntry{}
	b, err := os.ReadFile(p)
	if err == nil && len(b) > maxOCIIndex {
		err = fmt.Errorf("%s is %d bytes (at most %d)", p, len(b), maxOCIIndex)
	}
	if err == nil {
		var list []*ociEntry
		if err = json.Unmarshal(b, &list); err == nil {
			for _, e := range list {
				if e != nil && e.Ref != "" && ValidDigest(e.Module) == nil {
					m[e.Ref] = e
				}
			}
		}
	}
	x.err = err // a broken index reads as empty: images are pulled again
	x.m = m
}

// lookup finds the entry of nref: by its tag, or by repository and
// manifest digest.
func (x *ociIndex) lookup(nref name.Reference) *ociEntry {
	if d, ok := nref.(name.Digest); ok {
		return x.byManifest(d.Context().Name(), d.DigestStr())
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.m[nref.Name()]; e != nil {
		c := *e
		return &c
	}
	return nil
}

func (x *ociIndex) byManifest(repo, manifest string) *ociEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range x.m {
		if e.Repo == repo && e.Manifest == manifest {
			c := *e
			return &c
		}
	}
	return nil
}

func (x *ociIndex) touch(ref string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.m[ref]; e != nil {
		e.LastUsed = time.Now()
	}
}

// put records e (replacing the entry of its Ref) and saves the index.
func (x *ociIndex) put(s *Store, e *ociEntry) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	c := *e
	old := x.m[e.Ref]
	x.m[e.Ref] = &c
	if err := x.save(s); err != nil {
		if old != nil {
			x.m[e.Ref] = old
		} else {
			delete(x.m, e.Ref)
		}
		return err
	}
	return nil
}

// save writes oci.json; x.mu is held.
func (x *ociIndex) save(s *Store) error {
	if s.dir == "" {
		return nil
	}
	list := make([]*ociEntry, 0, len(x.m))
	for _, e := range x.m {
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Ref < list[j].Ref })
	if err := s.replaceJSON("oci.json", list); err != nil {
		return storeIO(err)
	}
	if st, err := os.Stat(filepath.Join(s.dir, "oci.json")); err == nil {
		x.stamp = st
	}
	return nil
}

// OCIImages lists the OCI images of the store, sorted by reference.
func (s *Store) OCIImages() []OCIImage {
	x := s.ociIndex()
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]OCIImage, 0, len(x.m))
	for _, e := range x.m {
		out = append(out, OCIImage{Ref: e.Ref, Repo: e.Repo, Tag: e.Tag, ID: ociImageID(e.Repo, e.Manifest),
			Manifest: e.Manifest, Module: e.Module, Size: e.Size, Created: e.Created, Pulled: e.Pulled, LastUsed: e.LastUsed,
			source: e.Source})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// RecordOCIImage records ref (REGISTRY/REPO:TAG) as the image of manifest
// whose module is the stored blob module (wasmpod image build).
func (s *Store) RecordOCIImage(ref, manifest, module string, created time.Time) error {
	nref, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("invalid reference %q: %v", ref, err)
	}
	size, ok := s.Has(module)
	if !ok {
		return fmt.Errorf("%w: no module %s", ErrUnknown, module)
	}
	tag := ""
	if t, ok := nref.(name.Tag); ok {
		tag = t.TagStr()
	}
	now := time.Now()
	return s.ociIndex().put(s, &ociEntry{Ref: nref.Name(), Repo: nref.Context().Name(), Tag: tag, Manifest: manifest,
		Module: module, Size: size, Created: created, Pulled: now, LastUsed: now})
}

// FindOCIImage finds the image ref names: a reference (tag or digest), an
// image ID (REPO@sha256:H) or a unique prefix of a manifest digest's hex.
func (s *Store) FindOCIImage(ref string) (OCIImage, bool) {
	for _, im := range s.OCIImages() {
		if im.Ref == ref || im.ID == ref {
			return im, true
		}
	}
	if nref, err := name.ParseReference(ref); err == nil {
		if e := s.ociIndex().lookup(nref); e != nil {
			for _, im := range s.OCIImages() {
				if im.Ref == e.Ref {
					return im, true
				}
			}
		}
	}
	var hit []OCIImage
	h := strings.TrimPrefix(ref, "sha256:")
	if len(h) >= 4 {
		for _, im := range s.OCIImages() {
			if strings.HasPrefix(strings.TrimPrefix(im.Manifest, "sha256:"), h) {
				hit = append(hit, im)
			}
		}
	}
	if len(hit) == 1 {
		return hit[0], true
	}
	return OCIImage{}, false
}

// RemoveOCIImage removes the reference ref of the index and, unless
// another reference or a wasmpod.local tag still uses it, its module blob.
// inUse, when set, names module digests that running containers use: such
// a blob is kept.
func (s *Store) RemoveOCIImage(ref string, inUse func(module string) bool) error {
	x := s.ociIndex()
	x.mu.Lock()
	e := x.m[ref]
	if e == nil {
		x.mu.Unlock()
		return fmt.Errorf("%w: no image %s", ErrUnknown, ref)
	}
	delete(x.m, ref)
	if err := x.save(s); err != nil {
		x.m[ref] = e
		x.mu.Unlock()
		return err
	}
	shared, layerShared := false, false
	for _, o := range x.m {
		if o.Module == e.Module {
			shared = true
		}
		if e.Source != nil && o.Source != nil && o.Source.Layer == e.Source.Layer {
			layerShared = true
		}
	}
	x.mu.Unlock()
	if e.Source != nil && e.Source.Layer != e.Module && !layerShared {
		if err := s.removeLayer(e.Source.Layer); err != nil { // oci_source.go
			return err
		}
	}
	if shared || (inUse != nil && inUse(e.Module)) {
		return nil
	}
	for _, t := range s.Tags() {
		if t[1] == e.Module {
			return nil
		}
	}
	return s.removeBlob(e.Module)
}

// removeBlob deletes the blob digest.
func (s *Store) removeBlob(digest string) error {
	return s.removeFile(false, digest)
}

// removeFile deletes the blob digest, or the layer blob if layer, and
// takes its bytes off the store's total.
func (s *Store) removeFile(layer bool, digest string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		mem := s.blobs
		if layer {
			mem = s.layers
		}
		if b, ok := mem[digest]; ok {
			delete(mem, digest)
			s.total -= int64(len(b))
		}
		return nil
	}
	p := s.blobPath(digest)
	if layer {
		p = s.layerPath(digest)
	}
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return storeIO(err)
	}
	if err := os.Remove(p); err != nil {
		return storeIO(err)
	}
	if st.Mode().IsRegular() {
		s.total -= st.Size()
	}
	return nil
}

func (x *ociIndex) pulled(ref string) {
	x.mu.Lock()
	f := x.onPull
	x.mu.Unlock()
	if f != nil {
		f(ref)
	}
}

package images

// gc.go: image garbage collection as the kubelet's image GC manager does
// it: when the store's disk use reaches HighThresholdPercent of its
// capacity, unused OCI images are removed, least recently used first, until
// use is down to LowThresholdPercent. An image is unused when no container
// uses it (the caller's inUse) and it was not pulled within MinAge. The
// store's "disk" is Capacity (the store's total bound when zero), so that
// a test can give it a small one. wasmpod.local tags (images a user
// imported by name) are never collected.

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// GCPolicy is the kubelet's ImageGCPolicy over the module store.
type GCPolicy struct {
	HighThresholdPercent int           // default 85
	LowThresholdPercent  int           // default 80
	MinAge               time.Duration // imageMinimumGCAge; default 2m, <0 for none
	Capacity             int64         // bytes; 0 = Store.MaxTotal()
}

// Defaults as the kubelet's.
const (
	DefaultImageGCHighThresholdPercent = 85
	DefaultImageGCLowThresholdPercent  = 80
	DefaultImageMinimumGCAge           = 2 * time.Minute
)

// WithDefaults fills the zero fields.
func (p GCPolicy) WithDefaults() GCPolicy {
	if p.HighThresholdPercent == 0 {
		p.HighThresholdPercent = DefaultImageGCHighThresholdPercent
	}
	if p.LowThresholdPercent == 0 {
		p.LowThresholdPercent = DefaultImageGCLowThresholdPercent
	}
	if p.MinAge == 0 {
		p.MinAge = DefaultImageMinimumGCAge
	}
	return p
}

// Validate checks the thresholds as the kubelet does.
func (p GCPolicy) Validate() error {
	switch {
	case p.HighThresholdPercent < 0 || p.HighThresholdPercent > 100:
		return fmt.Errorf("invalid HighThresholdPercent %d, must be in range [0-100]", p.HighThresholdPercent)
	case p.LowThresholdPercent < 0 || p.LowThresholdPercent > 100:
		return fmt.Errorf("invalid LowThresholdPercent %d, must be in range [0-100]", p.LowThresholdPercent)
	case p.LowThresholdPercent > p.HighThresholdPercent:
		return fmt.Errorf("LowThresholdPercent %d can not be higher than HighThresholdPercent %d", p.LowThresholdPercent, p.HighThresholdPercent)
	case p.Capacity < 0:
		return fmt.Errorf("invalid image store size %d", p.Capacity)
	}
	return nil
}

// GCResult says what a collection did.
type GCResult struct {
	Usage, Capacity int64    // before
	Freed           int64    // bytes of blobs removed
	Removed         []string // references removed
}

// GarbageCollect runs one image collection under p (defaults filled).
// inUse reports whether a container uses the image (nil: none does).
func (s *Store) GarbageCollect(p GCPolicy, inUse func(OCIImage) bool, now time.Time) (GCResult, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return GCResult{}, err
	}
	capacity := p.Capacity
	if capacity <= 0 {
		capacity = s.MaxTotal()
	}
	usage := s.Usage()
	res := GCResult{Usage: usage, Capacity: capacity}
	if p.HighThresholdPercent == 100 || usage*100 < int64(p.HighThresholdPercent)*capacity {
		return res, nil
	}
	toFree := usage - capacity*int64(p.LowThresholdPercent)/100
	list := s.OCIImages()
	// Least recently used first, then the earliest pulled (as the kubelet
	// sorts by lastUsed, then firstDetected).
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].LastUsed.Equal(list[j].LastUsed) {
			return list[i].LastUsed.Before(list[j].LastUsed)
		}
		return list[i].Pulled.Before(list[j].Pulled)
	})
	used := map[string]bool{} // modules of images in use
	for _, im := range list {
		if inUse != nil && inUse(im) {
			used[im.Module] = true
		}
	}
	for _, im := range list {
		if res.Freed >= toFree {
			break
		}
		if used[im.Module] || (p.MinAge > 0 && now.Sub(im.Pulled) < p.MinAge) {
			continue
		}
		before := s.Usage()
		if err := s.RemoveOCIImage(im.Ref, func(m string) bool { return used[m] }); err != nil {
			return res, err
		}
		res.Removed = append(res.Removed, im.Ref)
		res.Freed += before - s.Usage()
	}
	if res.Freed < toFree {
		return res, fmt.Errorf("Failed to garbage collect required amount of images. Attempted to free %d bytes, but only found %d bytes eligible to free.", toFree, res.Freed)
	}
	return res, nil
}

// ImageGCPeriod is how often RunImageGC collects (the kubelet's
// ImageGCPeriod), besides after each pull.
const ImageGCPeriod = 5 * time.Minute

// InUseBy returns an inUse for GarbageCollect: the images that refs (pod
// spec images and container status imageIDs) name, by reference, image ID
// or digest reference.
func InUseBy(refs []string) func(OCIImage) bool {
	set := map[string]bool{}
	for _, r := range refs {
		set[r] = true
		if n, err := ParseOCIRef(r); err == nil {
			set[n.Name()] = true
		}
	}
	return func(im OCIImage) bool {
		return set[im.Ref] || set[im.ID] || set[im.Repo+"@"+im.Manifest]
	}
}

// RunImageGC collects s's unused images under p every period and after
// each pull (the image just pulled is kept), until ctx ends. refsInUse
// names the images containers use (InUseBy); a round whose refsInUse
// fails is skipped. logf, when set, reports each round that removed
// something or failed.
func (s *Store) RunImageGC(ctx context.Context, p GCPolicy, period time.Duration, refsInUse func(context.Context) ([]string, error), logf func(format string, args ...any)) {
	if period <= 0 {
		period = ImageGCPeriod
	}
	kick := make(chan string, 1)
	x := s.ociIndex()
	x.mu.Lock()
	x.onPull = func(ref string) {
		select {
		case kick <- ref:
		default:
		}
	}
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		x.onPull = nil
		x.mu.Unlock()
	}()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		keep := ""
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case keep = <-kick:
		}
		refs, err := refsInUse(ctx)
		if err != nil {
			if logf != nil {
				logf("image GC: listing the images in use: %v", err)
			}
			continue
		}
		used := InUseBy(append(refs, keep))
		res, err := s.GarbageCollect(p, used, time.Now())
		if logf != nil && (err != nil || len(res.Removed) > 0) {
			logf("image GC: disk use %d of %d bytes; removed %v (%d bytes freed); %v", res.Usage, res.Capacity, res.Removed, res.Freed, err)
		}
	}
}

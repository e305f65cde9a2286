package pods

// configvolumes.go: configMap, secret, downwardAPI and projected volumes.
//
// The worker builds each volume's payload (path -> bytes and mode) as the
// kubelet's volume plugins do and writes it with the kubelet's AtomicWriter
// layout under the pod's directory:
//
//	volumes/<name>/..2026_12_06_14_00_00.123456789/<paths>   the payload
//	volumes/<name>/..data -> ..2026_12_06_14_00_00.123456789
//	volumes/<name>/<first path element> -> ..data/<first path element>
//
// An update writes a new timestamped directory, points ..data_tmp at it and
// renames ..data_tmp over ..data (one atomic rename), then removes the old
// directory: a reader sees the old payload or the new one, never a mix.
// The worker rewrites the volumes every Config.ConfigVolumeSyncPeriod (the
// kubelet's periodic pod sync), only when the payload changed. A subPath
// mount resolves ..data once, when its container starts, so it keeps the
// payload of that moment (as upstream's subPath bind mounts).
//
// The guest mounts these volumes read-only, whatever the volumeMount says.
// Paths come from the API (validated there) and are checked again here
// (relative, no "..", not starting with ".."), since the node agent may
// talk to another API server; a payload is bounded by MaxConfigVolumeBytes
// and MaxConfigVolumeFiles.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

const (
	// MaxConfigVolumeBytes bounds the bytes of one volume's payload.
	MaxConfigVolumeBytes = 16 << 20
	// MaxConfigVolumeFiles bounds the files of one volume's payload.
	MaxConfigVolumeFiles = 4096
	// DefaultConfigVolumeSyncPeriod is how often the volumes are rewritten
	// when Config.ConfigVolumeSyncPeriod is zero.
	DefaultConfigVolumeSyncPeriod = 5 * time.Second
)

// The kubelet's volume mount retry: a volume that cannot be set up (its
// ConfigMap does not exist yet) is tried again with back-off, the pod
// staying Pending in ContainerCreating.
const (
	mountRetryInitial = time.Second
	mountRetryMax     = 32 * time.Second
)

const dataDirName = "..data"

type volFile struct {
	data []byte
	mode os.FileMode
}

// configVolumes is the state of the pod's config volumes.
type configVolumes struct {
	mu   sync.Mutex
	last map[string]map[string]volFile // volume -> written payload

	// The pod's latest labels and annotations (SetMetadata, downward.go).
	metaMu              sync.Mutex
	labels, annotations map[string]string
	metaSet             bool

	// ServiceAccount tokens of projections, by audience and lifetime
	// (configvolumes_token.go).
	tokMu  sync.Mutex
	tokens map[tokenKey]*authenticationv1.TokenRequest
}

func isConfigVolume(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

func (w *Worker) hasConfigVolumes() bool {
	for i := range w.state.pod.Spec.Volumes {
		if isConfigVolume(&w.state.pod.Spec.Volumes[i]) {
			return true
		}
	}
	return false
}

func fileMode(m *int32, def *int32) os.FileMode {
	if m != nil {
		return os.FileMode(*m) & 0o777
	}
	if def != nil {
		return os.FileMode(*def) & 0o777
	}
	return 0o644
}

// payload builds volume v's files.
func (w *Worker) payload(v *corev1.Volume) (map[string]volFile, error) {
	out := map[string]volFile{}
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		return out, w.configMapFiles(out, s.Name, s.Items, s.Optional, s.DefaultMode)
	case v.Secret != nil:
		s := v.Secret
		return out, w.secretFiles(out, s.SecretName, s.Items, s.Optional, s.DefaultMode)
	case v.DownwardAPI != nil:
		return out, w.downwardFiles(out, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
	case v.Projected != nil:
		p := v.Projected
		// Sources may name the same object many times: each is read (and
		// its data converted) once per build, and the payload's bounds
		// are checked as sources are added, so a small spec cannot make
		// the agent hold sources × object size or saturate its API client.
		memo := &configMemo{}
		for _, src := range p.Sources {
			var err error
			switch {
			case src.ConfigMap != nil:
				err = w.configMapFilesMemo(memo, out, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, p.DefaultMode)
			case src.Secret != nil:
				err = w.secretFilesMemo(memo, out, src.Secret.Name, src.Secret.Items, src.Secret.Optional, p.DefaultMode)
			case src.DownwardAPI != nil:
				err = w.downwardFiles(out, src.DownwardAPI.Items, p.DefaultMode)
			case src.ServiceAccountToken != nil:
				err = w.tokenFile(out, src.ServiceAccountToken, p.DefaultMode) // configvolumes_token.go
			default:
				err = errors.New("projected volume source of an unsupported type")
			}
			if err == nil {
				err = payloadWithinBounds(out)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("not a configuration volume")
}

// keyFiles maps data to files: every key, or the items' keys to their
// paths; a missing item key fails unless optional.
func keyFiles(out map[string]volFile, data map[string][]byte, items []corev1.KeyToPath, optional bool, def *int32, missing func(key string) error) error {
	if len(items) == 0 {
		for k, b := range data {
			out[k] = volFile{data: b, mode: fileMode(nil, def)}
		}
		return nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return missing(it.Key)
		}
		out[it.Path] = volFile{data: b, mode: fileMode(it.Mode, def)}
	}
	return nil
}

// configMemo holds the objects one payload build has read, by name, with
// a ConfigMap's data converted once.
type configMemo struct {
	cms     map[string]map[string][]byte
	cmErrs  map[string]error
	secrets map[string]*corev1.Secret
	secErrs map[string]error
}

func (w *Worker) configMapFiles(out map[string]volFile, name string, items []corev1.KeyToPath, opt *bool, def *int32) error {
	return w.configMapFilesMemo(&configMemo{}, out, name, items, opt, def)
}

func (w *Worker) configMapFilesMemo(memo *configMemo, out map[string]volFile, name string, items []corev1.KeyToPath, opt *bool, def *int32) error {
	optional := opt != nil && *opt
	data, seen := memo.cms[name]
	err := memo.cmErrs[name]
	if !seen && err == nil {
		var cm *corev1.ConfigMap
		if cm, err = w.configMap(name); err == nil {
			data = map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			maps.Copy(data, cm.BinaryData)
			if memo.cms == nil {
				memo.cms = map[string]map[string][]byte{}
			}
			memo.cms[name] = data
		} else {
			if memo.cmErrs == nil {
				memo.cmErrs = map[string]error{}
			}
			memo.cmErrs[name] = err
		}
	}
	if err != nil {
		if optional && apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	return keyFiles(out, data, items, optional, def, func(k string) error {
		return fmt.Errorf("configmap references non-existent config key: %s", k)
	})
}

func (w *Worker) secretFiles(out map[string]volFile, name string, items []corev1.KeyToPath, opt *bool, def *int32) error {
	return w.secretFilesMemo(&configMemo{}, out, name, items, opt, def)
}

func (w *Worker) secretFilesMemo(memo *configMemo, out map[string]volFile, name string, items []corev1.KeyToPath, opt *bool, def *int32) error {
	optional := opt != nil && *opt
	s, seen := memo.secrets[name]
	err := memo.secErrs[name]
	if !seen && err == nil {
		if s, err = w.secret(name); err == nil {
			if memo.secrets == nil {
				memo.secrets = map[string]*corev1.Secret{}
			}
			memo.secrets[name] = s
		} else {
			if memo.secErrs == nil {
				memo.secErrs = map[string]error{}
			}
			memo.secErrs[name] = err
		}
	}
	if err != nil {
		if optional && apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	return keyFiles(out, s.Data, items, optional, def, func(k string) error {
		return fmt.Errorf("references non-existent secret key: %s", k)
	})
}

// payloadWithinBounds checks the sizes checkPayload checks, while a
// projected payload is being built.
func payloadWithinBounds(files map[string]volFile) error {
	if len(files) > MaxConfigVolumeFiles {
		return fmt.Errorf("%d files: more than the %d a volume may hold", len(files), MaxConfigVolumeFiles)
	}
	var total int64
	for _, f := range files {
		if total += int64(len(f.data)); total > MaxConfigVolumeBytes {
			return fmt.Errorf("the payload is more than %d bytes", MaxConfigVolumeBytes)
		}
	}
	return nil
}

// checkPayload refuses a path that could leave the volume or hide its
// ..data entries, and a payload over the bounds.
func checkPayload(files map[string]volFile) error {
	if err := payloadWithinBounds(files); err != nil {
		return err
	}
	for p := range files {
		switch {
		case p == "" || path.IsAbs(p) || !filepath.IsLocal(p):
			return fmt.Errorf("invalid path %q: must be a relative path inside the volume", p)
		case hasDotDot(p):
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		case strings.HasPrefix(p, ".."):
			return fmt.Errorf("invalid path %q: must not start with '..'", p)
		case strings.IndexByte(p, 0) >= 0:
			return fmt.Errorf("invalid path %q: must not contain a NUL byte", p)
		}
	}
	// A file may not also be a directory of another path.
	for p := range files {
		for d := path.Dir(path.Clean(p)); d != "."; d = path.Dir(d) {
			if _, ok := files[d]; ok {
				return fmt.Errorf("invalid path %q: %q is also a file", p, d)
			}
		}
	}
	return nil
}

func samePayload(a, b map[string]volFile) bool {
	if len(a) != len(b) {
		return false
	}
	for k, f := range a {
		g, ok := b[k]
		if !ok || g.mode != f.mode || !bytes.Equal(g.data, f.data) {
			return false
		}
	}
	return true
}

// writeAtomic writes files into dir with the AtomicWriter layout. With
// keepOld the previous payload directory stays: a subPath mount resolved
// into it keeps reading it (as upstream's bind mount keeps the old files);
// it goes with the pod's volumes.
func writeAtomic(dir string, files map[string]volFile, now time.Time, keepOld bool) error {
	if err := checkPayload(files); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dataLink := filepath.Join(dir, dataDirName)
	old, _ := os.Readlink(dataLink)
	ts, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		os.RemoveAll(ts)
		return err
	}
	for p, f := range files {
		fp := filepath.Join(ts, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			os.RemoveAll(ts)
			return err
		}
		if err := os.WriteFile(fp, f.data, 0o600); err != nil {
			os.RemoveAll(ts)
			return err
		}
		if err := os.Chmod(fp, f.mode); err != nil {
			os.RemoveAll(ts)
			return err
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		os.RemoveAll(ts)
		return err
	}
	if err := os.Rename(tmp, dataLink); err != nil {
		os.Remove(tmp)
		os.RemoveAll(ts)
		return err
	}
	// The user-visible entries: one symlink per first path element.
	top := map[string]bool{}
	for p := range files {
		top[strings.SplitN(path.Clean(p), "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(path.Join(dataDirName, name), link); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "..") && !top[n] {
			os.RemoveAll(filepath.Join(dir, n))
		}
	}
	if !keepOld && old != "" && old != filepath.Base(ts) && strings.HasPrefix(old, "..") && !strings.Contains(old, "/") {
		os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// syncConfigVolume writes volume v when its payload changed.
func (w *Worker) syncConfigVolume(v *corev1.Volume) error {
	files, err := w.payload(v)
	if err != nil {
		return err
	}
	cv := &w.cfgVols
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if last, ok := cv.last[v.Name]; ok && samePayload(last, files) {
		return nil
	}
	if err := writeAtomic(w.volumeDir(v), files, w.clk.Now(), w.subPathMounted(v.Name)); err != nil {
		return err
	}
	if cv.last == nil {
		cv.last = map[string]map[string]volFile{}
	}
	cv.last[v.Name] = files
	return nil
}

// subPathMounted: a container mounts a subPath of the named volume.
func (w *Worker) subPathMounted(name string) bool {
	spec := &w.state.pod.Spec
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			for _, m := range c.VolumeMounts {
				if m.Name == name && (m.SubPath != "" || m.SubPathExpr != "") {
					return true
				}
			}
		}
	}
	return false
}

// setupConfigVolumes writes every config volume once; the first error is
// upstream's FailedMount message.
func (w *Worker) setupConfigVolumes() error {
	for i := range w.state.pod.Spec.Volumes {
		v := &w.state.pod.Spec.Volumes[i]
		if !isConfigVolume(v) {
			continue
		}
		if err := w.syncConfigVolume(v); err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
	}
	return nil
}

// mountConfigVolumes sets the config volumes up before any container
// starts, retrying with back-off (FailedMount events) while the pod waits
// in ContainerCreating. It returns false when the pod ended first (it is
// then terminal and published), with ctx's error if ctx ended.
func (w *Worker) mountConfigVolumes(ctx context.Context) (bool, error) {
	if !w.hasConfigVolumes() {
		return true, nil
	}
	delay := mountRetryInitial
	for {
		err := w.setupConfigVolumes()
		if err == nil {
			return true, nil
		}
		w.event(corev1.EventTypeWarning, "FailedMount", err.Error())
		w.publish()
		if stop, ctxErr := w.waitToRetry(ctx, delay, nil); stop {
			w.state.terminal = true
			w.publish()
			return false, ctxErr
		}
		delay = min(2*delay, mountRetryMax)
	}
}

// watchConfigVolumes rewrites the config volumes every sync period, so
// updates of their ConfigMaps and Secrets reach the pod; a failed read
// keeps what the volume holds. It returns a func that stops it, nil when
// the pod has no config volume.
func (w *Worker) watchConfigVolumes() func() {
	if !w.hasConfigVolumes() {
		return nil
	}
	period := w.cfg.ConfigVolumeSyncPeriod
	if period <= 0 {
		period = DefaultConfigVolumeSyncPeriod
	}
	stop, done := make(chan struct{}), make(chan struct{})
	tick := w.clk.NewTicker(period)
	go func() {
		defer close(done)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C():
				for i := range w.state.pod.Spec.Volumes {
					if v := &w.state.pod.Spec.Volumes[i]; isConfigVolume(v) {
						_ = w.syncConfigVolume(v)
					}
				}
			}
		}
	}()
	// Stopping waits for a sync under way, so that none writes after the
	// pod's volumes are removed.
	return func() { close(stop); <-done }
}

package images

// inputrecord.go: the on-disk record of a go:// build's inputs, so that a
// warm start (a new process over the same cache) finds the cached artifact
// with stats alone, without running the go command.
//
// A record is stored per package directory, go command (resolved path) and
// go-relevant environment, under CacheDir/go-build-inputs. It holds the
// build-input key, the artifact's digest and the stat of every input the key
// was computed from (source, embedded, ignored and module files, package and
// embed directories, go.mod/go.work candidates in the parent directories,
// the go binary, the go env files). A warm resolve trusts the record only if
// every stat is unchanged. An entry whose mtime was within racyWindow of its
// read is "racy": its stat proves nothing, so its content is hashed again
// and compared (a directory or an unhashed file that was racy is never
// recorded: the next start computes the key again).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const recordVersion = 1

type inputRecord struct {
	Version int
	Dir     string
	GoBin   string
	EnvHash string // sha256 of goEnv (the values may hold credentials: not stored)
	Key     string // the build-input key: the artifact is go-build/<Key>.wasm
	Digest  string // the artifact's digest
	Entries []recordEntry
	// Artifact: the stat of the cached module; unchanged and not racy, it
	// vouches for Digest without hashing the module again.
	Artifact recordEntry
}

type recordEntry struct {
	Path    string
	Absent  bool  `json:",omitempty"`
	Size    int64 `json:",omitempty"`
	MtimeNs int64 `json:",omitempty"`
	Mode    uint32
	Dev     uint64 `json:",omitempty"`
	Ino     uint64 `json:",omitempty"`
	CtimeNs int64  `json:",omitempty"`
	// Hash: sha256 of the content that went into the key (files only).
	Hash string `json:",omitempty"`
	// Racy: the stat was taken within racyWindow of the mtime; Hash decides.
	Racy bool `json:",omitempty"`
}

func entryOf(path string, fi fs.FileInfo) recordEntry {
	if fi == nil {
		return recordEntry{Path: path, Absent: true}
	}
	dev, ino, ctime := statIDs(fi)
	return recordEntry{Path: path, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode()),
		Dev: dev, Ino: ino, CtimeNs: ctime}
}

func (e recordEntry) sameStat(o recordEntry) bool {
	return e.Absent == o.Absent && e.Size == o.Size && e.MtimeNs == o.MtimeNs && e.Mode == o.Mode &&
		e.Dev == o.Dev && e.Ino == o.Ino && e.CtimeNs == o.CtimeNs
}

// goEnv returns the environment variables that may change what the go
// command builds or where it finds its settings: every GO* and CGO_*
// variable, and those that locate the user's go env file.
func goEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GO") || strings.HasPrefix(name, "CGO_") ||
			name == "HOME" || name == "XDG_CONFIG_HOME" || name == "AppData" || name == "home" {
			env = append(env, kv)
		}
	}
	sort.Strings(env)
	return env
}

func envHash(env []string) string {
	sum := sha256.Sum256([]byte(strings.Join(env, "\x00")))
	return hex.EncodeToString(sum[:])
}

// recordPath names the record of dir built by goBin under env (beside
// go-build, which holds the artifacts only).
func recordPath(cacheDir, dir, goBin string, env []string) string {
	h := sha256.New()
	h.Write([]byte(dir + "\x00" + goBin + "\x00" + strings.Join(env, "\x00")))
	return filepath.Join(cacheDir, "go-build-inputs", hex.EncodeToString(h.Sum(nil))[:32]+".json")
}

// newRecord makes the record of a build whose key was computed from fp, or
// nil if fp holds a racy entry that its content cannot vouch for.
func newRecord(dir, goBin string, env []string, key, digest string, fp *fingerprint) *inputRecord {
	rec := &inputRecord{Version: recordVersion, Dir: dir, GoBin: goBin, EnvHash: envHash(env), Key: key, Digest: digest}
	for _, e := range fp.entries {
		re := entryOf(e.path, e.info)
		if e.info != nil && !e.info.ModTime().Before(fp.since.Add(-racyWindow)) {
			if e.hash == nil || e.info.IsDir() {
				return nil
			}
			re.Racy = true
		}
		if e.hash != nil {
			re.Hash = hex.EncodeToString(e.hash)
		}
		rec.Entries = append(rec.Entries, re)
	}
	return rec
}

// save writes rec atomically (a temporary file renamed into place), so that
// concurrent processes read a whole record or none.
func (rec *inputRecord) save(path string) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func loadRecord(path string) (*inputRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec inputRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	if rec.Version != recordVersion {
		return nil, errors.New("record of another version")
	}
	return &rec, nil
}

// validate reports whether every input of rec is as it was recorded, and
// returns the fingerprint of the stats it took (for Current). refresh is
// true when racy entries proved equal by content are no longer racy, so
// the record can be saved without them being hashed again.
func (rec *inputRecord) validate() (fp *fingerprint, ok, refresh bool) {
	fp, now := newFingerprint()
	anyRacy := false
	for _, re := range rec.Entries {
		st, err := os.Stat(re.Path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, false, false
		}
		if err != nil {
			st = nil
		}
		if !re.sameStat(entryOf(re.Path, st)) {
			return nil, false, false
		}
		if re.Racy {
			if re.Hash == "" || st.IsDir() {
				return nil, false, false
			}
			b, err := os.ReadFile(re.Path)
			if err != nil {
				return nil, false, false
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != re.Hash {
				return nil, false, false
			}
			anyRacy = true
		}
		if st != nil && !st.ModTime().Before(now.Add(-racyWindow)) {
			fp.racy = true
		}
		fp.entries = append(fp.entries, statEntry{path: re.Path, info: st})
	}
	return fp, true, anyRacy && !fp.racy
}

// warm returns the cached image of dir if its record proves the inputs
// unchanged, or nil (no record, changed inputs, missing artifact).
func (r *Resolver) warm(ref, recPath, dir, goBin string, env []string, cacheDir string) *Image {
	rec, err := loadRecord(recPath)
	if err != nil || rec.Dir != dir || rec.GoBin != goBin || rec.EnvHash != envHash(env) {
		return nil
	}
	fp, ok, refresh := rec.validate()
	if !ok {
		return nil
	}
	out := filepath.Join(cacheDir, rec.Key+".wasm")
	now, save := time.Now(), false
	st, err := os.Stat(out)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(out)
	if err != nil || checkWasm(b) != nil {
		return nil
	}
	cur := entryOf(out, st)
	if rec.Artifact.Racy || !rec.Artifact.sameStat(cur) {
		if Digest(b) != rec.Digest {
			return nil
		}
		if st.ModTime().Before(now.Add(-racyWindow)) {
			rec.Artifact, save = cur, true
		}
	}
	if refresh {
		for i := range rec.Entries {
			rec.Entries[i].Racy = false
		}
		save = true
	}
	if save {
		_ = rec.save(recPath) // best effort: the next start hashes again
	}
	return &Image{Ref: ref, Digest: rec.Digest, Bytes: b, Path: out, inputs: fp}
}

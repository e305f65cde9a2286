package images

// store_ref.go: the image names of the module store (store.go), shaped as
// OCI references so that kubectl's reference check (the distribution
// reference grammar) accepts them:
//
//	wasmpod.local/NAME[:TAG]          a tag of the store's name index (TAG "latest" when absent)
//	wasmpod.local/NAME[:TAG]@sha256:H a module by its digest (NAME and TAG informative only)
//
// NAME is one or more path components of lowercase letters and digits
// separated by ".", "_", "__" or dashes, joined by "/" (at most 255
// characters with the host); TAG is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// StoreHost is the registry host of module-store references.
const StoreHost = "wasmpod.local"

// DefaultTag is the tag of a store reference that names none.
const DefaultTag = "latest"

// StoreRef is a parsed module-store reference.
type StoreRef struct {
	Name   string // e.g. "hello" or "team/hello"
	Tag    string // "" when the reference has none
	Digest string // "sha256:<hex>", "" when the reference has none
}

// String is the reference: wasmpod.local/NAME[:TAG][@DIGEST].
func (r StoreRef) String() string {
	s := StoreHost + "/" + r.Name
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// IsStoreRef reports whether ref names the module store (it starts with
// "wasmpod.local/"); ParseStoreRef says whether it is well formed.
func IsStoreRef(ref string) bool { return strings.HasPrefix(ref, StoreHost+"/") }

// ParseStoreRef parses "wasmpod.local/NAME[:TAG][@sha256:HEX]".
func ParseStoreRef(ref string) (StoreRef, error) {
	if !IsStoreRef(ref) {
		return StoreRef{}, fmt.Errorf("%q is not a module store reference (want %s/NAME[:TAG] or %s/NAME@sha256:<hex>)", ref, StoreHost, StoreHost)
	}
	if len(ref) > 255+1+128+1+71 {
		return StoreRef{}, errors.New("reference too long")
	}
	rest := strings.TrimPrefix(ref, StoreHost+"/")
	var r StoreRef
	if name, dgst, ok := strings.Cut(rest, "@"); ok {
		if err := ValidDigest(dgst); err != nil {
			return StoreRef{}, err
		}
		r.Digest, rest = dgst, name
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
		r.Tag, rest = rest[i+1:], rest[:i]
		if err := ValidTag(r.Tag); err != nil {
			return StoreRef{}, err
		}
	}
	if err := ValidName(rest); err != nil {
		return StoreRef{}, err
	}
	r.Name = rest
	return r, nil
}

// ValidName reports why name is not a store image name, or nil.
func ValidName(name string) error {
	if name == "" {
		return errors.New("the image name is empty")
	}
	if len(StoreHost)+1+len(name) > 255 {
		return fmt.Errorf("the image name is %d characters long (at most %d)", len(name), 255-len(StoreHost)-1)
	}
	for _, comp := range strings.Split(name, "/") {
		if !validComponent(comp) {
			return fmt.Errorf("invalid image name %q: each /-separated part must be lowercase letters and digits, separated by '.', '_', '__' or '-'", name)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// validComponent: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
func validComponent(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); {
		if isAlnum(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && !isAlnum(s[j]) {
			j++
		}
		sep := s[i:j]
		if sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = j
	}
	return true
}

// ValidTag reports why tag is not a valid tag, or nil.
func ValidTag(tag string) error {
	ok := tag != "" && len(tag) <= 128
	for i := 0; ok && i < len(tag); i++ {
		c := tag[i]
		word := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		ok = word || (i > 0 && (c == '.' || c == '-'))
	}
	if !ok {
		return fmt.Errorf("invalid tag %q: letters, digits, '_', '.' and '-' (not first), at most 128", tag)
	}
	return nil
}

// ValidDigest reports why d is not "sha256:" and 64 lowercase hex digits, or nil.
func ValidDigest(d string) error {
	hex, ok := strings.CutPrefix(d, "sha256:")
	ok = ok && len(hex) == 64
	for i := 0; ok && i < len(hex); i++ {
		ok = hex[i] >= '0' && hex[i] <= '9' || hex[i] >= 'a' && hex[i] <= 'f'
	}
	if !ok {
		return fmt.Errorf("invalid digest %q: want sha256: and 64 lowercase hex digits", d)
	}
	return nil
}

// NameFor suggests a store image name for a local reference: the file's
// name without ".wasm" for a path, the package directory's name for
// go://, lowercased, its runs of letters and digits joined by "-";
// "module" when nothing is left. baseDir anchors a relative reference.
func NameFor(ref, baseDir string) string {
	p := ref
	if rest, ok := strings.CutPrefix(ref, "go://"); ok {
		p = absPath(baseDir, filepath.FromSlash(rest))
	} else if rest, ok := strings.CutPrefix(ref, "file://"); ok {
		p = filepath.FromSlash(rest)
	}
	base := filepath.Base(absPath(baseDir, p))
	if strings.EqualFold(filepath.Ext(base), ".wasm") {
		base = base[:len(base)-len(".wasm")]
	}
	// Runs of letters and digits, joined by "-".
	var parts []string
	for _, f := range strings.FieldsFunc(strings.ToLower(base), func(r rune) bool { return r >= 0x80 || !isAlnum(byte(r)) }) {
		parts = append(parts, f)
	}
	name := strings.Join(parts, "-")
	if len(name) > 128 {
		name = strings.Trim(name[:128], "-")
	}
	if name == "" {
		return "module"
	}
	return name
}

// IsRelative reports whether ref is a path, file:// or go:// reference
// that is resolved against the manifest's directory (the
// wasmpod.io/manifest-dir annotation): one that only the client that read
// the manifest can resolve.
func IsRelative(ref string) bool {
	switch {
	case strings.HasPrefix(ref, "go://"):
		rest := strings.TrimPrefix(ref, "go://")
		return !filepath.IsAbs(filepath.FromSlash(rest)) && !strings.HasPrefix(rest, "/")
	case strings.HasPrefix(ref, "file://"):
		p, err := fileURLPath(ref)
		return err == nil && !filepath.IsAbs(p) && !strings.HasPrefix(p, "/")
	case strings.Contains(ref, "://"), IsStoreRef(ref):
		return false
	}
	return isPath(ref) && !filepath.IsAbs(ref) && !strings.HasPrefix(ref, "/")
}

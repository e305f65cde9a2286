package images

// pull_auth.go: registry credentials from docker config files, as the
// kubelet reads them from kubernetes.io/dockerconfigjson (and legacy
// kubernetes.io/dockercfg) Secrets and from the node's config.json.
//
// A key is a registry host ("127.0.0.1:5000", "docker.io"), optionally
// with a scheme and a path ("https://registry.example/team"); a path
// matches the repositories under it, a host glob ("*.example.com") one
// label. As the kubelet's credential provider, the most specific key
// (the longest path) that matches wins.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

type dockerAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

type credEntry struct {
	host, path string // host (may be a glob), path ("" for any)
	cfg        authn.AuthConfig
}

// DockerKeychain is an authn.Keychain over docker config credentials.
type DockerKeychain struct {
	entries []credEntry // most specific first
}

// maxDockerConfig bounds a docker config read.
const maxDockerConfig = 1 << 20

// DockerConfigKeychain parses a docker config: {"auths": {KEY: AUTH}} (a
// .dockerconfigjson or config.json) or the legacy {KEY: AUTH} (.dockercfg).
func DockerConfigKeychain(data []byte) (*DockerKeychain, error) {
	if len(data) > maxDockerConfig {
		return nil, fmt.Errorf("docker config is %d bytes (at most %d)", len(data), maxDockerConfig)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("docker config: %v", err)
	}
	auths := map[string]dockerAuth{}
	if raw, ok := top["auths"]; ok {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return nil, fmt.Errorf("docker config: auths: %v", err)
		}
	} else {
		for k, raw := range top {
			var a dockerAuth
			if json.Unmarshal(raw, &a) == nil {
				auths[k] = a
			}
		}
	}
	kc := &DockerKeychain{}
	for key, a := range auths {
		cfg := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			b, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("docker config: auths[%q].auth is not base64: %v", key, err)
			}
			u, p, ok := strings.Cut(string(b), ":")
			if !ok {
				return nil, fmt.Errorf("docker config: auths[%q].auth is not USER:PASSWORD", key)
			}
			cfg.Username, cfg.Password = u, p
		}
		host, p := splitCredKey(key)
		if host == "" {
			continue
		}
		kc.entries = append(kc.entries, credEntry{host: host, path: p, cfg: cfg})
	}
	sort.SliceStable(kc.entries, func(i, j int) bool {
		a, b := kc.entries[i], kc.entries[j]
		if len(a.path) != len(b.path) {
			return len(a.path) > len(b.path)
		}
		if ga, gb := strings.Contains(a.host, "*"), strings.Contains(b.host, "*"); ga != gb {
			return gb
		}
		return a.host+a.path < b.host+b.path
	})
	return kc, nil
}

// splitCredKey turns "https://host:port/path/v1/" into host:port, path.
func splitCredKey(key string) (host, p string) {
	k := strings.TrimSpace(key)
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
	}
	host, p, _ = strings.Cut(k, "/")
	p = strings.Trim(p, "/")
	if p == "v1" || p == "v2" {
		p = ""
	}
	host = normalizeRegistry(strings.ToLower(host))
	return host, p
}

func normalizeRegistry(h string) string {
	switch h {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "index.docker.io"
	}
	return h
}

func hostMatches(glob, host string) bool {
	if !strings.Contains(glob, "*") {
		return glob == host
	}
	gh, gp, _ := strings.Cut(glob, ":")
	hh, hp, _ := strings.Cut(host, ":")
	if gp != hp {
		return false
	}
	gl, hl := strings.Split(gh, "."), strings.Split(hh, ".")
	if len(gl) != len(hl) {
		return false
	}
	for i := range gl {
		if ok, _ := path.Match(gl[i], hl[i]); !ok {
			return false
		}
	}
	return true
}

// Resolve implements authn.Keychain: the credentials of the most specific
// matching key, else anonymous.
func (kc *DockerKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if kc == nil {
		return authn.Anonymous, nil
	}
	host := normalizeRegistry(strings.ToLower(target.RegistryStr()))
	repo := ""
	if r, ok := target.(interface{ RepositoryStr() string }); ok {
		repo = r.RepositoryStr()
	}
	for _, e := range kc.entries {
		if !hostMatches(e.host, host) {
			continue
		}
		if e.path != "" && repo != e.path && !strings.HasPrefix(repo, e.path+"/") {
			continue
		}
		return authn.FromConfig(e.cfg), nil
	}
	return authn.Anonymous, nil
}

// Len is the number of credentials.
func (kc *DockerKeychain) Len() int {
	if kc == nil {
		return 0
	}
	return len(kc.entries)
}

// SecretKeychain builds the keychain of a pod's imagePullSecrets from the
// docker config of each (PullSecretData), in order; the first secret with
// a matching key wins. A config that does not parse is left out (and
// named in the error).
func SecretKeychain(configs [][]byte) (authn.Keychain, error) {
	var chain []authn.Keychain
	var errs []error
	for _, raw := range configs {
		kc, err := DockerConfigKeychain(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		chain = append(chain, kc)
	}
	return firstMatch(chain), errors.Join(errs...)
}

// firstMatch is a keychain that returns the first non-anonymous answer.
type firstMatch []authn.Keychain

func (f firstMatch) Resolve(target authn.Resource) (authn.Authenticator, error) {
	for _, kc := range f {
		a, err := kc.Resolve(target)
		if err != nil {
			return nil, err
		}
		if a != authn.Anonymous {
			return a, nil
		}
	}
	return authn.Anonymous, nil
}

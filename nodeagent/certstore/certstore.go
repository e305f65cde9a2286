// Package certstore keeps a node's certificates in its cert dir as the
// kubelet's certificate file store does (client-go util/certificate's
// FileStore, which the agent does not link): each pair (certificate chain
// and key in one PEM file, 0600) is <prefix>-<time>.pem, and
// <prefix>-current.pem is a symlink to the pair in use, swapped
// atomically. The node's kubeconfig names <cert-dir>/kubelet-client-current.pem
// as its client-certificate and client-key, as the kubelet's bootstrap
// writes it, so that whatever reads the kubeconfig uses the latest pair.
// It links no part of the agent: bootstrap, which the CLI links, uses it.
package certstore

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/util/keyutil"
)

// The cert dir's pairs (the kubelet's --cert-dir names).
const (
	ClientPrefix  = "kubelet-client"
	ServingPrefix = "kubelet-server"
)

// MaxFileSize bounds a certificate or key file read (a chain and its key
// take a few KB).
const MaxFileSize = 1 << 20

// CurrentPath is the current pair of prefix in dir.
func CurrentPath(dir, prefix string) string {
	return filepath.Join(dir, prefix+"-current.pem")
}

// ReadFile reads a certificate or key file: a regular file (after
// symlinks) of at most MaxFileSize. Errors name path.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err // *PathError: names path
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a certificate file", path, MaxFileSize)
	}
	return b, nil
}

// LoadPair reads a certificate chain and its key from certFile and
// keyFile (the same file for a cert dir's pair). Errors name the file.
func LoadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM := certPEM
	if keyFile != certFile {
		if keyPEM, err = ReadFile(keyFile); err != nil {
			return nil, err
		}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		what := certFile
		if keyFile != certFile {
			what += " and " + keyFile
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
	}
	return &c, nil
}

// LoadCurrent reads dir's current pair of prefix. The link must name a
// file of dir (as Store makes it): one leading elsewhere is refused.
// A missing pair is an error satisfying errors.Is(err, fs.ErrNotExist).
func LoadCurrent(dir, prefix string) (*tls.Certificate, error) {
	path := CurrentPath(dir, prefix)
	if err := CheckLink(path); err != nil {
		return nil, err
	}
	return LoadPair(path, path)
}

// CheckLink checks that path, when it is a symlink, names a file in its
// own directory (a cert dir's current pair). Errors name path.
func CheckLink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return err
	}
	target, err := os.Readlink(path)
	if err != nil {
		return err
	}
	if strings.ContainsRune(target, filepath.Separator) || target == "." || target == ".." {
		return fmt.Errorf("%s: a symlink to %s, outside its cert dir: refusing it (the agent links it to a file of the same directory)", path, target)
	}
	return nil
}

// PEM is c's chain and key in PEM.
func PEM(c *tls.Certificate) ([]byte, error) {
	var b bytes.Buffer
	for _, der := range c.Certificate {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	k, err := keyutil.MarshalPrivateKeyToPEM(c.PrivateKey)
	if err != nil {
		return nil, err
	}
	b.Write(k)
	return b.Bytes(), nil
}

// Store writes c to dir as prefix-<time>.pem (0600) and points
// prefix-current.pem at it, replacing the link atomically. It returns the
// current pair's path.
func Store(dir, prefix string, c *tls.Certificate, now time.Time) (string, error) {
	b, err := PEM(c)
	if err != nil {
		return "", err
	}
	return StorePEM(dir, prefix, b, now)
}

// StorePEM is Store of a pair already in PEM (chain and key).
func StorePEM(dir, prefix string, pairPEM []byte, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	name := prefix + "-" + now.UTC().Format("2006-01-02-15-04-05.000000000") + ".pem"
	f, err := os.CreateTemp(dir, "."+name+".*") // 0600, created anew (O_EXCL): never through a planted link
	if err != nil {
		return "", err
	}
	_, err = f.Write(pairPEM)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	link := filepath.Join(dir, prefix+"-updated.pem")
	os.Remove(link)
	if err := os.Symlink(name, link); err != nil {
		return "", err
	}
	cur := CurrentPath(dir, prefix)
	if err := os.Rename(link, cur); err != nil {
		return "", err
	}
	return cur, nil
}

// Expired is the error of a certificate past its NotAfter.
type Expired struct {
	// File is where the certificate was read ("" for data embedded in a
	// kubeconfig).
	File     string
	Subject  string
	NotAfter time.Time
}

func (e *Expired) Error() string {
	return fmt.Sprintf("the client certificate %s(%s) expired at %s", fileOf(e.File), e.Subject, e.NotAfter.UTC().Format(time.RFC3339))
}

func fileOf(f string) string {
	if f == "" {
		return ""
	}
	return "in " + f + " "
}

// CheckValid is an *Expired error when c's leaf has expired at now.
func CheckValid(c *tls.Certificate, file string, now time.Time) error {
	leaf := c.Leaf
	if leaf == nil {
		if len(c.Certificate) == 0 {
			return errors.New("no certificate")
		}
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return err
		}
	}
	if now.After(leaf.NotAfter) {
		return &Expired{File: file, Subject: leaf.Subject.CommonName, NotAfter: leaf.NotAfter}
	}
	return nil
}

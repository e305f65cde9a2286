package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

func cpCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "cp",
		Usage:     "Copy files and directories to and from containers",
		ArgsUsage: "SRC DEST (one of them POD:PATH)",
		Description: `Copies as kubectl cp does: a tar stream over exec. Into a pod it runs
"tar -xmf - -C DIR" there, out of one "tar cf - PATH"; a pod whose own module
has no tar gets the toolbox's (see "wasmpod exec"). A path in the pod is
absolute or relative to the container's working directory. Copying out
refuses archive members that would land outside DEST.

Examples:
  # Copy a local directory into the pod's /data volume
  wasmpod cp ./site toolbox:/data/site

  # Copy a file out of a pod's container
  wasmpod cp toolbox:/data/notes.txt ./notes.txt -c toolbox`,
		Flags: append(append(connFlags(), nsFlags(false)...),
			&cmdline.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name; if omitted, the one named by the kubectl.kubernetes.io/default-container annotation, else the first container"},
		),
		Action: cpAction,
	}
}

// cpSpec is one side of cp: a local path, or POD:PATH.
type cpSpec struct {
	pod, path string
}

func parseCpSpec(s string) cpSpec {
	// A local path may hold a colon only after a slash ("./a:b").
	if i := strings.IndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], "/") {
		return cpSpec{pod: s[:i], path: s[i+1:]}
	}
	return cpSpec{path: s}
}

func cpAction(c *cmdline.Context) error {
	args := c.Args().Slice()
	if len(args) != 2 {
		return usageErr("source and destination are required")
	}
	src, dst := parseCpSpec(args[0]), parseCpSpec(args[1])
	switch {
	case src.pod != "" && dst.pod != "":
		return usageErr("one of src or dest must be a local file specification")
	case src.pod == "" && dst.pod == "":
		return usageErr("one of src or dest must be a remote file specification")
	}
	remote := src
	if dst.pod != "" {
		remote = dst
	}
	if remote.path == "" {
		return errorf("remote path cannot be empty")
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ns := k.namespace(c)
	pod, err := k.cs.CoreV1().Pods(ns).Get(c.Context, remote.pod, metav1.GetOptions{})
	if err != nil {
		return k.fail(err)
	}
	container := c.String("container")
	if container == "" {
		if container, err = defaultContainerName(pod, c.App.ErrWriter, false); err != nil {
			return err
		}
	}
	run := func(cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
		opts := &corev1.PodExecOptions{Container: container, Command: cmd, Stdin: stdin != nil, Stdout: stdout != nil, Stderr: true}
		req := k.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(remote.pod).SubResource("exec").
			VersionedParams(opts, scheme.ParameterCodec)
		ex, err := remotecommand.NewWebSocketExecutor(k.cfg, "GET", req.URL().String())
		if err != nil {
			return err
		}
		return ex.StreamWithContext(c.Context, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	}
	if dst.pod != "" {
		err = cpTo(c.Context, run, src.path, dst.path, c.App.ErrWriter)
	} else {
		err = cpFrom(run, src.path, dst.path, c.App.ErrWriter)
	}
	var ce utilexec.CodeExitError
	if errors.As(err, &ce) {
		return &cmdError{msg: fmt.Sprintf("command terminated with exit code %d", ce.Code), code: ce.Code}
	}
	var ue *cmdError
	if errors.As(err, &ue) {
		return err
	}
	return k.fail(err)
}

type execFunc func(cmd []string, stdin io.Reader, stdout, stderr io.Writer) error

// cpTo uploads local into the pod at dest: dest/base(local) when dest is
// a directory there (kubectl asks "test -d" first), else dest itself.
func cpTo(ctx context.Context, run execFunc, local, dest string, stderr io.Writer) error {
	fi, err := os.Stat(local)
	if err != nil {
		return errorf("%s doesn't exist in local filesystem", local)
	}
	if dest != "/" && strings.HasSuffix(dest, "/") {
		dest = strings.TrimSuffix(dest, "/")
	}
	if run([]string{"test", "-d", dest}, nil, io.Discard, io.Discard) == nil {
		dest = path.Join(dest, filepath.Base(local))
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tarLocal(tw, local, path.Base(dest), fi)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err = run([]string{"tar", "-xmf", "-", "-C", path.Dir(dest)}, pr, io.Discard, stderr)
	pr.Close()
	return err
}

// tarLocal writes local as name (a directory recursively).
func tarLocal(tw *tar.Writer, local, name string, fi fs.FileInfo) error {
	if !fi.IsDir() {
		return tarFile(tw, local, name, fi)
	}
	return filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		return tarFile(tw, p, path.Join(name, filepath.ToSlash(rel)), info)
	})
}

func tarFile(tw *tar.Writer, p, name string, fi fs.FileInfo) error {
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return nil // sockets, devices, symlinks: skipped, as WASI has none
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if fi.IsDir() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(tw, f, fi.Size())
	return err
}

// cpFrom downloads src out of the pod into local ("tar cf - src" there),
// refusing members outside local and links.
func cpFrom(run execFunc, src, local string, stderr io.Writer) error {
	pr, pw := io.Pipe()
	var tarErr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		err := run([]string{"tar", "cf", "-", src}, nil, pw, io.MultiWriter(stderr, &tarErr))
		pw.CloseWithError(err)
		done <- err
	}()
	prefix := strings.Trim(path.Clean(src), "/")
	tr := tar.NewReader(pr)
	wrote := false
	var extractErr error
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			extractErr = err
			break
		}
		name := strings.TrimPrefix(path.Clean(strings.TrimLeft(hdr.Name, "/")), "./")
		var rel string
		switch {
		case name == prefix:
			rel = ""
		case strings.HasPrefix(name, prefix+"/"):
			rel = name[len(prefix)+1:]
		case prefix == ".":
			rel = name
		default:
			continue
		}
		if rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") {
			fmt.Fprintf(stderr, "warning: skipping %q: it would be outside %s\n", hdr.Name, local)
			continue
		}
		target := filepath.Join(local, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				extractErr = err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				extractErr = err
				break
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(hdr.Mode).Perm()|0o600)
			if err != nil {
				extractErr = err
				break
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				extractErr = err
			}
		default:
			fmt.Fprintf(stderr, "warning: skipping %q: not a file or directory\n", hdr.Name)
			continue
		}
		if extractErr != nil {
			break
		}
		wrote = true
	}
	pr.CloseWithError(io.ErrClosedPipe)
	if err := <-done; err != nil {
		return err
	}
	if extractErr != nil {
		return extractErr
	}
	if !wrote {
		return errorf("%s: no such file or directory in the pod", src)
	}
	return nil
}

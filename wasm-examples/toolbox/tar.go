package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// tarMain creates (c), extracts (x) and lists (t) archives, gzip'd with
// z, from/to -f FILE ("-" or none: stdin/stdout), relative to -C DIR; the
// first argument may omit the dash ("tar cf - dir", as kubectl cp runs
// it). Extraction refuses entries that would land outside DIR.
func tarMain(p *proc, args []string) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append([]string{"-" + args[0]}, args[1:]...)
	}
	set, rest, bad := flags(args, "cxtvzmopkh", "fC")
	if bad != "" {
		return p.usage("tar", bad)
	}
	modes := 0
	for _, c := range []byte("cxt") {
		if has(set, c) {
			modes++
		}
	}
	if modes != 1 {
		return p.usage("tar", "need exactly one of -c, -x or -t")
	}
	dir := p.dir
	if c, ok := set['C']; ok {
		dir = p.abs(c)
	}
	file := set['f']
	if file == "" {
		file = "-"
	}
	switch {
	case has(set, 'c'):
		if len(rest) == 0 {
			p.errf("tar", "empty archive")
			return 1
		}
		var w io.Writer = p.stdout
		if file != "-" {
			f, err := os.Create(p.abs(file))
			if err != nil {
				return p.pathErr("tar", file, err)
			}
			defer f.Close()
			w = f
		}
		var gz *gzip.Writer
		if has(set, 'z') {
			gz = gzip.NewWriter(w)
			w = gz
		}
		tw := tar.NewWriter(w)
		code, added := 0, 0
		for _, n := range rest {
			if err := p.tarAdd(tw, dir, n, has(set, 'v')); err != nil {
				code = p.errf("tar", "%s: %s", n, errText(err))
			} else {
				added++
			}
		}
		if added == 0 {
			// Nothing to archive: no end-of-archive either, so a reader
			// (kubectl cp) sees a failure, not an empty archive.
			return code
		}
		if err := tw.Close(); err != nil {
			return p.errf("tar", "%v", err)
		}
		if gz != nil {
			gz.Close()
		}
		return code
	default:
		var r io.Reader = p.stdin
		if file != "-" {
			f, err := os.Open(p.abs(file))
			if err != nil {
				return p.pathErr("tar", file, err)
			}
			defer f.Close()
			r = f
		}
		if has(set, 'z') {
			gz, err := gzip.NewReader(r)
			if err != nil {
				return p.errf("tar", "invalid gzip magic")
			}
			r = gz
		}
		return p.tarRead(tar.NewReader(r), dir, has(set, 'x'), has(set, 'v') || has(set, 't'))
	}
}

func (p *proc) tarAdd(tw *tar.Writer, dir, name string, verbose bool) error {
	root := name
	if !filepath.IsAbs(root) {
		root = filepath.Join(dir, name)
	}
	return filepath.WalkDir(root, func(pth string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, pth)
		arcName := path.Join(strings.TrimLeft(filepath.ToSlash(name), "/"), filepath.ToSlash(rel))
		if strings.HasPrefix(filepath.ToSlash(name), "/") && arcName == "" {
			arcName = "."
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(pth)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = arcName
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "root", "root"
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if verbose {
			fmt.Fprintln(p.stderr, hdr.Name)
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(pth)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
				return err
			}
		}
		return nil
	})
}

func (p *proc) tarRead(tr *tar.Reader, dir string, extract, list bool) int {
	code := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return code
		}
		if err != nil {
			p.errf("tar", "short read")
			return 1
		}
		if list {
			w := p.stdout
			if extract {
				w = p.stderr
			}
			fmt.Fprintln(w, hdr.Name)
		}
		if !extract {
			continue
		}
		clean := path.Clean("/" + hdr.Name)
		if clean == "/" {
			continue
		}
		if strings.Contains("/"+hdr.Name+"/", "/../") {
			p.errf("tar", "removing leading '../' from member names: skipping %s", hdr.Name)
			code = 1
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			code = p.errf("tar", "%s: %s", hdr.Name, errText(err))
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				code = p.errf("tar", "%s: %s", hdr.Name, errText(err))
			}
		case tar.TypeReg, tar.TypeRegA:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(hdr.Mode).Perm()|0o200)
			if err != nil {
				code = p.errf("tar", "can't open '%s': %s", hdr.Name, errText(err))
				continue
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				code = p.errf("tar", "%s: %s", hdr.Name, errText(err))
			}
		case tar.TypeSymlink:
			if path.IsAbs(hdr.Linkname) || strings.Contains("/"+hdr.Linkname+"/", "/../") {
				code = p.errf("tar", "%s: refusing a symlink out of the directory (%s)", hdr.Name, hdr.Linkname)
				continue
			}
			os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				code = p.errf("tar", "%s: %s", hdr.Name, errText(err))
			}
		default:
			// devices, hard links, fifos: WASI has none.
		}
	}
}

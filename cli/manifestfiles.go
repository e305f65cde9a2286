package cli

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// manifestFiles lists the manifest files that an -f argument names, as
// kubectl does: "-" and plain files as they are; for a directory, its
// .yaml, .yml and .json files in lexical order, and those of its
// subdirectories too when recursive.
func manifestFiles(f string, recursive bool) ([]string, error) {
	if f == "-" {
		return []string{"-"}, nil
	}
	st, err := os.Stat(f)
	if err != nil {
		return nil, errorf("the path %q does not exist", f)
	}
	if !st.IsDir() {
		return []string{f}, nil
	}
	var paths []string
	err = filepath.WalkDir(f, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != f && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, errorf("%v", err)
	}
	sort.Strings(paths)
	return paths, nil
}

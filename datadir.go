package wasmpod

import "github.com/wasmpod/wasmpod/internal/nodeutil"

// prepareDataDir creates dir (mode 0700) or makes a pre-existing one
// private (nodeutil.PrepareDataDir).
func prepareDataDir(dir string) error { return nodeutil.PrepareDataDir(dir) }

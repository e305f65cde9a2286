package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/store/bbolt"
)

func backupCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "backup",
		Usage:     "Write a snapshot of the store to FILE",
		ArgsUsage: "FILE",
		Description: `Online (the default): asks the running server (--server, as the other commands)
for a consistent snapshot of its store, taken in one read transaction while
the server keeps serving; only the admin may (the Unix socket, or the TCP token).

Offline (--data-dir): copies the store of a data directory no server is using.

The snapshot is checked before FILE is written (atomically: FILE appears
complete or not at all). Restore it with "wasmpod restore".`,
		Flags: append(connFlags(),
			&cmdline.StringFlag{Name: "data-dir", Usage: "back up this data directory's store offline, instead of asking the server"},
		),
		Action: backupAction,
	}
}

func restoreCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "restore",
		Usage:     "Put a snapshot made by \"wasmpod backup\" in place of a data directory's store (offline)",
		ArgsUsage: "FILE",
		Description: `Checks FILE, then replaces the store of --data-dir with it. Refused while a
server uses the data directory: stop it first, restore, start it again. The
store it replaces is kept next to it (wasmpod.db.before-restore-<time>).`,
		Flags: []cmdline.Flag{
			&cmdline.StringFlag{Name: "data-dir", Usage: "data directory to restore into", Value: DefaultDataDir(), EnvVars: []string{"WASMPOD_DATA_DIR"}},
		},
		Action: restoreAction,
	}
}

// progress prints "what: N% (done of total)" to w at each 10% step.
type progress struct {
	w     io.Writer
	what  string
	total int64
	done  int64
	step  int64
}

func (p *progress) add(n int64) {
	p.done += n
	if p.total <= 0 {
		return
	}
	if s := p.done * 10 / p.total; s > p.step {
		p.step = s
		fmt.Fprintf(p.w, "%s: %d%% (%s of %s)\n", p.what, s*10, byteSize(p.done), byteSize(p.total))
	}
}

func (p *progress) Write(b []byte) (int, error) {
	p.add(int64(len(b)))
	return len(b), nil
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func backupAction(c *cmdline.Context) error {
	stderr := c.App.ErrWriter
	if c.NArg() != 1 {
		return usageErr("backup needs one argument, the file to write (wasmpod backup FILE)")
	}
	dst := c.Args().First()
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return errorf("cannot write the backup: %v", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	defer tmp.Close()
	var size, rev int64
	var from string
	if dataDir := c.String("data-dir"); dataDir != "" {
		from = wasmpod.StorePath(dataDir)
		p := &progress{w: stderr, what: "backup"}
		err = bbolt.SnapshotFile(from, io.MultiWriter(tmp, p), 0, func(sz, r int64) {
			size, rev, p.total = sz, r, sz
			fmt.Fprintf(stderr, "Backing up %s (revision %d, %s) to %s\n", from, r, byteSize(sz), dst)
		})
		if err != nil {
			return errorf("backup of %s failed: %v", from, err)
		}
	} else {
		k, err := connect(c)
		if err != nil {
			return err
		}
		from = k.server
		if size, rev, err = downloadBackup(k, tmp, stderr, dst); err != nil {
			if isRefused(err) {
				return errorf("the connection to the server %s was refused - is \"wasmpod serve\" running? To back up a data directory no server is using, add --data-dir DIR", k.server)
			}
			return k.fail(err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return errorf("writing %s: %v", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return errorf("writing %s: %v", dst, err)
	}
	// The copy must be a sound store before it replaces anything.
	got, err := bbolt.Check(tmp.Name(), 0)
	if err != nil {
		return errorf("the snapshot received from %s does not check, %s was not written: %v", from, dst, err)
	}
	if got != rev {
		return errorf("the snapshot received from %s holds revision %d, not the %d announced; %s was not written", from, got, rev, dst)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return errorf("writing %s: %v", dst, err)
	}
	fmt.Fprintf(stderr, "Backup written to %s (revision %d, %s, checked)\n", dst, rev, byteSize(size))
	return nil
}

// downloadBackup streams the server's snapshot into w with progress.
func downloadBackup(k *conn, w io.Writer, stderr io.Writer, dst string) (size, rev int64, err error) {
	hc, err := rest.HTTPClientFor(k.cfg)
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(k.cfg.Host, "/")+apiserver.BackupPath, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		msg := strings.TrimSpace(string(b))
		if st := statusMessage(b); st != "" {
			msg = st
		}
		return 0, 0, errorf("the server refused the backup (%s): %s", resp.Status, msg)
	}
	size = resp.ContentLength
	rev, err = strconv.ParseInt(resp.Header.Get(apiserver.BackupRevisionHeader), 10, 64)
	if err != nil || size < 0 {
		return 0, 0, errorf("the server's backup response lacks its size or revision")
	}
	fmt.Fprintf(stderr, "Backing up the store of %s (revision %d, %s) to %s\n", k.server, rev, byteSize(size), dst)
	n, err := io.Copy(io.MultiWriter(w, &progress{w: stderr, what: "backup", total: size}), resp.Body)
	if err != nil {
		return 0, 0, errorf("backup interrupted after %s of %s: %v", byteSize(n), byteSize(size), err)
	}
	if n != size {
		return 0, 0, errorf("backup cut short: received %s of %s", byteSize(n), byteSize(size))
	}
	return size, rev, nil
}

// statusMessage extracts the message of a JSON metav1.Status body.
func statusMessage(b []byte) string {
	var st metav1.Status
	if json.Unmarshal(b, &st) != nil {
		return ""
	}
	return st.Message
}

func restoreAction(c *cmdline.Context) error {
	stderr := c.App.ErrWriter
	if c.NArg() != 1 {
		return usageErr("restore needs one argument, the backup file (wasmpod restore --data-dir DIR FILE)")
	}
	src := c.Args().First()
	dataDir := c.String("data-dir")
	dst := wasmpod.StorePath(dataDir)
	if _, err := os.Stat(src); err != nil {
		return errorf("backup %s: %v", src, err)
	}
	fmt.Fprintf(stderr, "Checking %s...\n", src)
	p := &progress{w: stderr, what: "restore"}
	rev, aside, err := bbolt.Restore(src, dst, 0, func(done, total int64) {
		if p.total == 0 {
			p.total = total
			fmt.Fprintf(stderr, "Restoring %s (%s) into %s\n", src, byteSize(total), dst)
		}
		p.add(done - p.done)
	})
	if err != nil {
		return errorf("restore failed: %v", err)
	}
	if aside != "" {
		fmt.Fprintf(stderr, "The store it replaced is kept as %s\n", aside)
	}
	fmt.Fprintf(stderr, "Restored revision %d into %s; start the server with: wasmpod serve --data-dir %s\n", rev, dataDir, dataDir)
	return nil
}

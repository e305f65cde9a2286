package cli

// images.go: the node's OCI images, as crictl and docker show them:
// wasmpod images (list), wasmpod rmi, and wasmpod image build / push /
// pull. They work on the module store of a data directory
// (<data-dir>/modules, the store `serve` pulls into), which they open
// directly: the store's files are replaced atomically, and a server re-reads
// the image index when another process changed it.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/wasmpod/wasmpod/images"
)

func storeFlags() []cmdline.Flag {
	return []cmdline.Flag{
		&cmdline.StringFlag{Name: "data-dir", Usage: "the data directory whose module store (<data-dir>/modules) holds the images", Value: DefaultDataDir(), EnvVars: []string{"WASMPOD_DATA_DIR"}},
	}
}

// registryFlags are image push's and (with pull) image pull's.
func registryFlags(pull bool) []cmdline.Flag {
	fs := []cmdline.Flag{
		&cmdline.StringSliceFlag{Name: "insecure-registry", Usage: "registry (host or host:port) to reach over plain HTTP; every other registry is HTTPS only (repeatable)"},
		&cmdline.StringFlag{Name: "docker-config", Usage: "docker config.json with registry credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)"},
	}
	if pull {
		fs = append(fs, &cmdline.StringFlag{Name: "max-layer-size", Usage: "largest layer to pull, in bytes", Value: fmt.Sprint(images.DefaultMaxLayerSize)})
	}
	return fs
}

func openLocalStore(c *cmdline.Context) (*images.Store, error) {
	dir := c.String("data-dir")
	if dir == "" {
		return nil, usageErr("no --data-dir")
	}
	st, err := images.OpenStore(filepath.Join(dir, "modules"))
	if err != nil {
		return nil, errorf("%v", err)
	}
	return st, nil
}

func registryConfig(c *cmdline.Context) (*images.RegistryConfig, authn.Keychain, error) {
	cfg := &images.RegistryConfig{Insecure: c.StringSlice("insecure-registry")}
	if s := c.String("max-layer-size"); s != "" {
		var n int64
		if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
			return nil, nil, usageErr(fmt.Sprintf("--max-layer-size: invalid size %q", s))
		}
		cfg.MaxLayerSize = n
	}
	var kc authn.Keychain = authn.DefaultKeychain
	if f := c.String("docker-config"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, usageErr(fmt.Sprintf("--docker-config: %v", err))
		}
		dk, err := images.DockerConfigKeychain(b)
		if err != nil {
			return nil, nil, usageErr(fmt.Sprintf("--docker-config: %v", err))
		}
		kc = dk
	}
	cfg.Keychain = kc
	return cfg, kc, nil
}

func imagesCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:   "images",
		Usage:  "List the images of the node's module store: OCI images pulled or built, and wasmpod.local names (REPOSITORY TAG IMAGE ID CREATED SIZE)",
		Flags:  append(storeFlags(), &cmdline.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print image IDs only"}),
		Action: imagesList,
	}
}

// shortID is crictl's truncated image ID: 13 hex digits.
func shortID(d string) string {
	h := strings.TrimPrefix(d, "sha256:")
	if len(h) > 13 {
		h = h[:13]
	}
	return h
}

// humanSize4 is docker's units.HumanSize: 4 significant digits, decimal units.
func humanSize4(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func imagesList(c *cmdline.Context) error {
	if c.NArg() != 0 {
		return usageErr("images takes no arguments")
	}
	st, err := openLocalStore(c)
	if err != nil {
		return err
	}
	type row struct{ repo, tag, id, created, size string }
	var rows []row
	for _, im := range st.OCIImages() {
		tag := im.Tag
		if tag == "" {
			tag = "<none>"
		}
		created := "N/A"
		if !im.Created.IsZero() {
			created = duration.HumanDuration(time.Since(im.Created)) + " ago"
		}
		rows = append(rows, row{im.Repo, tag, shortID(im.Manifest), created, humanSize4(im.Size)})
	}
	for _, t := range st.Tags() {
		name, tag, _ := strings.Cut(t[0], ":")
		size, _ := st.Has(t[1])
		rows = append(rows, row{images.StoreHost + "/" + name, tag, shortID(t[1]), "N/A", humanSize4(size)})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].repo+":"+rows[i].tag < rows[j].repo+":"+rows[j].tag })
	if c.Bool("quiet") {
		for _, r := range rows {
			fmt.Fprintln(c.App.Writer, r.id)
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.repo, r.tag, r.id, r.created, r.size)
	}
	return tw.Flush()
}

func rmiCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "rmi",
		Usage:     "Remove OCI images from the node's module store",
		ArgsUsage: "IMAGE [IMAGE...]",
		Description: `IMAGE is a reference (REGISTRY/REPO:TAG or @sha256:...), an image ID
(REPO@sha256:...) or a unique prefix of the image ID's digest, as wasmpod
images lists it. The module's blob goes with its last reference (and is
kept while a wasmpod.local name points at it); wasmpod.local names are not
removed by rmi.`,
		Flags:  storeFlags(),
		Action: rmi,
	}
}

func rmi(c *cmdline.Context) error {
	if c.NArg() == 0 {
		return usageErr("rmi needs at least one IMAGE; see 'wasmpod rmi -h'")
	}
	st, err := openLocalStore(c)
	if err != nil {
		return err
	}
	failed := false
	for _, ref := range c.Args().Slice() {
		im, ok := st.FindOCIImage(ref)
		if !ok {
			fmt.Fprintf(c.App.ErrWriter, "error: no such image: %s\n", ref)
			failed = true
			continue
		}
		if err := st.RemoveOCIImage(im.Ref, nil); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "error: removing %s: %v\n", im.Ref, err)
			failed = true
			continue
		}
		fmt.Fprintf(c.App.Writer, "Deleted: %s\n", im.Ref)
	}
	if failed {
		return &cmdError{code: 1}
	}
	return nil
}

func imageBuildCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "build",
		Usage:     "Pack a module (a .wasm file or a go:// package, built here) as a wasm OCI artifact in the node's module store",
		ArgsUsage: "FILE.wasm|go://PKG -t REGISTRY/REPO[:TAG]",
		Description: `The artifact has the config application/vnd.wasm.config.v0+json and one
application/wasm layer, the module. Prints its image ID; 'wasmpod image push'
sends it to its registry.`,
		Flags: append(storeFlags(), cacheDirFlag(),
			&cmdline.StringFlag{Name: "tag", Aliases: []string{"t"}, Usage: "the image's reference, REGISTRY/REPO[:TAG]", Required: true}),
		Action: imageBuild,
	}
}

func imageBuild(c *cmdline.Context) error {
	if c.NArg() != 1 {
		return usageErr("image build needs FILE.wasm|go://PKG; see 'wasmpod image build -h'")
	}
	ref := c.Args().First()
	if !isLocalRef(ref) {
		return usageErr(fmt.Sprintf("%q is not a module of this machine: give a path to a .wasm file, a file:// URL or go://PKG", ref))
	}
	tag := c.String("tag")
	if _, err := images.ParseOCIRef(tag); err != nil || !images.IsOCIRef(tag) {
		return usageErr(fmt.Sprintf("-t %q: not an OCI reference REGISTRY/REPO[:TAG]", tag))
	}
	st, err := openLocalStore(c)
	if err != nil {
		return err
	}
	wd, _ := os.Getwd()
	r := &images.Resolver{CacheDir: filepath.Join(c.String("cache-dir"), "images"), Progress: c.App.ErrWriter}
	img, err := r.Resolve(c.Context, ref, wd)
	if err != nil {
		return errorf("%v", err)
	}
	id, err := st.BuildArtifact(c.Context, tag, img.Bytes)
	if err != nil {
		return errorf("%v", err)
	}
	fmt.Fprintln(c.App.Writer, id)
	fmt.Fprintf(c.App.ErrWriter, "Built %s from %s (%s, module %s)\n", tag, ref, humanBytes(len(img.Bytes)), img.Digest)
	return nil
}

// progressPrinter prints "VERB REF: DONE of TOTAL" lines at most every
// second (and the last one).
func progressPrinter(w io.Writer, verb, ref string) (func(done, total int64), func()) {
	var mu sync.Mutex
	last := time.Time{}
	var d, t int64
	return func(done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			d, t = done, total
			if total > 0 && time.Since(last) >= time.Second {
				last = time.Now()
				fmt.Fprintf(w, "%s %s: %s of %s\n", verb, ref, humanSize4(done), humanSize4(total))
			}
		}, func() {
			mu.Lock()
			defer mu.Unlock()
			if t > 0 {
				fmt.Fprintf(w, "%s %s: %s of %s\n", verb, ref, humanSize4(d), humanSize4(t))
			}
		}
}

func imagePushCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "push",
		Usage:     "Push an image of the node's module store to its registry (or to DEST): as it was pulled, or, built here, as a wasm OCI artifact",
		ArgsUsage: "IMAGE [DEST]",
		Flags:     append(storeFlags(), registryFlags(false)...),
		Action:    imagePush,
	}
}

func imagePush(c *cmdline.Context) error {
	if c.NArg() < 1 || c.NArg() > 2 {
		return usageErr("image push needs IMAGE [DEST]; see 'wasmpod image push -h'")
	}
	r, kc, err := registryResolver(c)
	if err != nil {
		return err
	}
	ref, dest := c.Args().Get(0), c.Args().Get(1)
	shown := dest
	if shown == "" {
		shown = ref
	}
	prog, flush := progressPrinter(c.App.ErrWriter, "Pushing", shown)
	digest, err := r.Push(c.Context, ref, dest, kc, prog)
	flush()
	if err != nil {
		return errorf("%v", err)
	}
	fmt.Fprintf(c.App.Writer, "%s: digest: %s\n", shown, digest)
	return nil
}

// registryResolver is image push's and pull's: the module store of
// --data-dir and the registry flags; kc is the credentials' keychain.
func registryResolver(c *cmdline.Context) (r *images.Resolver, kc authn.Keychain, err error) {
	st, err := openLocalStore(c)
	if err != nil {
		return nil, nil, err
	}
	cfg, kc, err := registryConfig(c)
	if err != nil {
		return nil, nil, err
	}
	return &images.Resolver{Store: st, Registry: cfg}, kc, nil
}

func imagePullCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "pull",
		Usage:     "Pull an OCI image into the node's module store",
		ArgsUsage: "REGISTRY/REPO[:TAG|@sha256:DIGEST]",
		Description: `Asks the registry for the image's manifest every time (the pull policy
Always) and fetches its module unless the store has that manifest; a wasm OCI
artifact or a container image of one layer holding the .wasm. Prints the
image ID, REGISTRY/REPO@sha256:<manifest>, as a pod's container status shows it.`,
		Flags:  append(storeFlags(), registryFlags(true)...),
		Action: imagePull,
	}
}

func imagePull(c *cmdline.Context) error {
	if c.NArg() != 1 {
		return usageErr("image pull needs one image reference; see 'wasmpod image pull -h'")
	}
	ref := c.Args().First()
	if !images.IsOCIRef(ref) || images.AliasOf(ref) != "" {
		return usageErr(fmt.Sprintf("%q is not an OCI image of a registry", ref))
	}
	r, _, err := registryResolver(c)
	if err != nil {
		return err
	}
	// The resolver's progress lines: Pulling REF..., what has arrived
	// every second, Pulled REF (SIZE, DIGEST) in T.
	r.Progress = c.App.ErrWriter
	img, err := r.Resolve(images.WithPullOptions(c.Context, images.PullOptions{Policy: images.PullAlways}), ref, "")
	if err != nil {
		return errorf("%v", err)
	}
	fmt.Fprintln(c.App.Writer, img.ImageID())
	return nil
}

package cli

// image.go: wasmpod image import, which puts a module of this machine into
// the server's module store under a name that kubectl accepts.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/images"
)

func imageCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:  "image",
		Usage: "Manage module images: import and list the server's wasmpod.local images; build, push and pull OCI images in the node's module store (--data-dir)",
		Flags: append(connFlags(), cacheDirFlag()),
		Subcommands: []*cmdline.Command{
			{
				Name:      "import",
				Usage:     "Upload a module (a .wasm file or a go:// package, built here) and name it",
				ArgsUsage: "FILE.wasm|go://PKG NAME[:TAG]",
				Description: `Resolves FILE.wasm (or builds the Go main package PKG for wasip1/wasm),
uploads the module to the server's module store (unless the server has it
already) and points NAME:TAG (TAG "latest" when omitted) at it. Prints the
image name to use in a pod, which kubectl accepts:

  wasmpod image import ./hello.wasm hello
  kubectl run hello --image=wasmpod.local/hello --restart=Never

NAME is lowercase letters and digits, separated by '.', '_' or '-', with
'/' between parts; "wasmpod.local/" in front is accepted.`,
				Flags:  append(connFlags(), cacheDirFlag()),
				Action: imageImport,
			},
			imageBuildCommand(), imagePushCommand(), imagePullCommand(), // images.go
			{
				Name:    "list",
				Aliases: []string{"ls"},
				Usage:   "List the named images of the server's module store",
				Flags:   connFlags(),
				Action:  imageList,
			},
		},
	}
}

func imageList(c *cmdline.Context) error {
	if c.NArg() != 0 {
		return usageErr("image list takes no arguments")
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	raw, err := k.restClient().Get().AbsPath(apiserver.TagsPath).Do(c.Context).Raw()
	if err != nil {
		if apierrors.IsNotFound(err) {
			return &cmdError{msg: fmt.Sprintf("error: the server %s has no module store", k.server), code: 1}
		}
		return k.fail(err)
	}
	var list apiserver.TagList
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("decoding the server's list: %v", err)
	}
	if len(list.Items) == 0 {
		fmt.Fprintln(c.App.ErrWriter, "No images found in the module store.")
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tDIGEST\tSIZE")
	for _, t := range list.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Image, t.Digest, humanBytes(int(t.Size)))
	}
	return tw.Flush()
}

func imageImport(c *cmdline.Context) error {
	if c.NArg() != 2 {
		return usageErr("image import needs FILE.wasm|go://PKG and NAME[:TAG]; see 'wasmpod image import -h'")
	}
	ref, nameTag := c.Args().Get(0), strings.TrimPrefix(c.Args().Get(1), images.StoreHost+"/")
	name, tag := nameTag, images.DefaultTag
	if i := strings.LastIndex(nameTag, ":"); i >= 0 && !strings.Contains(nameTag[i:], "/") {
		name, tag = nameTag[:i], nameTag[i+1:]
	}
	if err := images.ValidName(name); err != nil {
		return usageErr(err.Error())
	}
	if err := images.ValidTag(tag); err != nil {
		return usageErr(err.Error())
	}
	if !isLocalRef(ref) {
		return usageErr(fmt.Sprintf("%q is not a module of this machine: give a path to a .wasm file, a file:// URL or go://PKG", ref))
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	wd, _ := os.Getwd()
	up := newUploader(c, k)
	img, err := up.resolver.Resolve(c.Context, ref, wd)
	if err != nil {
		return &cmdError{msg: "error: " + err.Error(), code: 1}
	}
	if err := up.ensure(c.Context, ref, img); err != nil {
		if err == errNoModuleStore {
			return &cmdError{msg: fmt.Sprintf("error: the server %s has no module store", k.server), code: 1}
		}
		return k.fail(err)
	}
	info, err := up.tag(c.Context, name, tag, img.Digest)
	if err != nil {
		return k.fail(err)
	}
	fmt.Fprintf(c.App.Writer, "%s\n", info.Image)
	fmt.Fprintf(c.App.ErrWriter, "Imported %s (%s, %s) as %s\n", ref, humanBytes(len(img.Bytes)), img.Digest, info.Image)
	return nil
}

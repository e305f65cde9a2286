package cli

// image.go: wasmpod image import, which puts a module of this machine into
// the server's module store under a name that kubectl accepts.

import (
	"fmt"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/wasmpod/wasmpod/images"
)

func imageCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "image",
		Usage: "Manage the modules of the server's module store (wasmpod.local images)",
		Flags: append(connFlags(), cacheDirFlag()),
		Subcommands: []*ucli.Command{
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
		},
	}
}

func imageImport(c *ucli.Context) error {
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

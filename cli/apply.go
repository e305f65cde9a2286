package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/wasmpod/wasmpod/api"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
	"github.com/wasmpod/wasmpod/pods"
)

// lastAppliedAnnotation holds the configuration apply last sent.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

func fileFlags(verb string) []cmdline.Flag {
	return []cmdline.Flag{
		&cmdline.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "the files, directories or - (standard input) that contain the configuration to " + verb},
		&cmdline.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "process the directory used in -f recursively"},
	}
}

func applyCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:  "apply",
		Usage: "Apply a configuration to a resource by file name or stdin",
		Description: `Creates the objects of the manifests that do not exist yet and updates the ones
that do, with a three-way merge of the last applied configuration (kept in the
kubectl.kubernetes.io/last-applied-configuration annotation), the new one and
the live object. JSON and YAML are accepted, several documents per file.

Images that are files of this machine (.wasm paths and file:// URLs, relative
to the manifest's directory or absolute, and go:// packages, built here) are
uploaded to the server's module store (once: a module the server has is not
sent again) and sent as wasmpod.local/NAME@sha256:<digest>. One that cannot be
resolved here is sent as written, with the manifest's directory in the
wasmpod.io/manifest-dir annotation, for the server to resolve.

Examples:
  # Apply the configuration in pod.yaml to a pod
  wasmpod apply -f ./pod.yaml

  # Apply every .yaml, .yml and .json file in a directory
  wasmpod apply -f ./manifests/

  # Apply the YAML passed into stdin
  cat pod.yaml | wasmpod apply -f -`,
		Flags:  append(append(append(connFlags(), nsFlags(false)...), fileFlags("apply")...), cacheDirFlag()),
		Action: func(c *cmdline.Context) error { return applyOrCreate(c, true) },
	}
}

func createCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:  "create",
		Usage: "Create a resource from a file or from stdin",
		Description: `Creates the objects of the manifests; an object that exists already is an error.

Examples:
  # Create a pod using the data in pod.yaml
  wasmpod create -f ./pod.yaml

  # Create a pod based on the YAML passed into stdin
  cat pod.yaml | wasmpod create -f -`,
		Flags:  append(append(append(connFlags(), nsFlags(false)...), fileFlags("create")...), cacheDirFlag()),
		Action: func(c *cmdline.Context) error { return applyOrCreate(c, false) },
	}
}

// manifestObject is one object read from a manifest.
type manifestObject struct {
	obj    *unstructured.Unstructured
	source string // the file, or "STDIN"
	dir    string // the file's directory (the working directory for STDIN)
}

// readManifests reads every object of the -f arguments, in order. Typed
// kinds are checked by api.Decode (strict: unknown fields, bad values);
// other kinds pass as unstructured objects for the server to judge.
func readManifests(c *cmdline.Context, files []string, stdin io.Reader) ([]manifestObject, error) {
	var out []manifestObject
	for _, f := range files {
		paths, err := manifestFiles(f, c.Bool("recursive"))
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			var data []byte
			var err error
			source, dir := p, ""
			if p == "-" {
				source = "STDIN"
				data, err = io.ReadAll(stdin)
				dir, _ = os.Getwd()
			} else {
				data, err = os.ReadFile(p)
				dir, _ = filepath.Abs(filepath.Dir(p))
			}
			if err != nil {
				return nil, errorf("reading %s: %v", source, err)
			}
			objs, err := decodeManifest(data, source)
			if err != nil {
				return nil, err
			}
			for _, o := range objs {
				out = append(out, manifestObject{obj: o, source: source, dir: dir})
			}
		}
	}
	return out, nil
}

// decodeManifest decodes a multi-document stream into unstructured
// objects, expanding Lists, after api.Decode has checked the typed ones.
func decodeManifest(data []byte, source string) ([]*unstructured.Unstructured, error) {
	_, derr := api.Decode(data, source)
	var fatal []string
	for _, e := range api.Errors(derr) {
		// Kinds the typed scheme does not know go to the server as they are.
		if (e.Field == "kind" && strings.HasPrefix(e.Detail, "unknown kind")) || (e.Field == "apiVersion" && strings.HasPrefix(e.Detail, "Unsupported value")) {
			continue
		}
		fatal = append(fatal, "error: "+e.Error())
	}
	if derr != nil && len(api.Errors(derr)) == 0 {
		fatal = append(fatal, "error: "+derr.Error())
	}
	if len(fatal) > 0 {
		return nil, &cmdError{msg: strings.Join(fatal, "\n"), code: 1}
	}
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, errorf("error parsing %s: %v", source, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, errorf("error parsing %s: %v", source, err)
			}
			for j := range l.Items {
				out = append(out, &l.Items[j])
			}
			continue
		}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, errorf("error validating %q: apiVersion and kind must be set (document %d)", source, i+1)
		}
		out = append(out, u)
	}
	return out, nil
}

// setManifestDir records dir on pods and on the pod templates of
// workloads, unless the manifest set it.
func setManifestDir(u *unstructured.Unstructured, dir string) {
	if dir == "" {
		return
	}
	var path []string
	switch u.GetKind() {
	case "Pod":
		path = []string{"metadata", "annotations"}
	case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "ReplicationController", "PodTemplate":
		path = []string{"spec", "template", "metadata", "annotations"}
		if u.GetKind() == "PodTemplate" {
			path = []string{"template", "metadata", "annotations"}
		}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template", "metadata", "annotations"}
	default:
		return
	}
	ann, _, _ := unstructured.NestedStringMap(u.Object, path...)
	if _, ok := ann[pods.AnnotationManifestDir]; ok {
		return
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[pods.AnnotationManifestDir] = dir
	_ = unstructured.SetNestedStringMap(u.Object, ann, path...)
}

func applyOrCreate(c *cmdline.Context, apply bool) error {
	verb := "create"
	if apply {
		verb = "apply"
	}
	files := c.StringSlice("filename")
	if len(files) == 0 {
		return errorf("must specify one of -f and -k")
	}
	if c.NArg() > 0 {
		return errorf("Unexpected args: %v\nSee 'wasmpod %s -h' for help and examples", c.Args().Slice(), verb)
	}
	objs, err := readManifests(c, files, c.App.Reader)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return errorf("no objects passed to %s", verb)
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	var errs []error
	up := newUploader(c, k) // upload.go
	for _, mo := range objs {
		if err := up.prepare(c.Context, mo); err != nil {
			if isRefused(err) {
				return k.fail(err)
			}
			errs = append(errs, err)
			continue
		}
		msg, err := k.applyOne(c, mo, apply)
		if err != nil {
			if isRefused(err) {
				return k.fail(err)
			}
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(c.App.Writer, msg)
	}
	return k.multiErr(errs)
}

// applyOne creates or patches one object and returns kubectl's message.
func (k *conn) applyOne(c *cmdline.Context, mo manifestObject, apply bool) (string, error) {
	ctx := c.Context
	obj := mo.obj
	gvk := obj.GroupVersionKind()
	m, err := k.mappingForGVK(gvk)
	if err != nil {
		if derr := k.reachable(); derr != nil {
			return "", derr
		}
		return "", fmt.Errorf("resource mapping not found for name: %q namespace: %q from %q: no matches for kind %q in version %q\nensure CRDs are installed first", obj.GetName(), obj.GetNamespace(), mo.source, gvk.Kind, gvk.GroupVersion().String())
	}
	ns := ""
	if namespaced(m) {
		ns = k.namespace(c)
		if on := obj.GetNamespace(); on != "" {
			if c.IsSet("namespace") && on != ns {
				return "", errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", on, ns, on)
			}
			ns = on
		}
		obj.SetNamespace(ns)
	} else {
		obj.SetNamespace("")
	}
	rc := k.resourceClient(m, ns)
	name := kindName(m.GroupVersionKind.GroupKind(), obj.GetName())
	if !apply {
		created, err := rc.Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			return "", sourceErr("creating", mo.source, err)
		}
		return kindName(m.GroupVersionKind.GroupKind(), created.GetName()) + " created", nil
	}
	if obj.GetName() == "" {
		return "", errorf("error when retrieving current configuration of %s from %q: resource name may not be empty", gvk.Kind, mo.source)
	}
	modified, err := withLastApplied(obj)
	if err != nil {
		return "", err
	}
	cur, err := rc.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := rc.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return "", sourceErr("creating", mo.source, err)
		}
		return name + " created", nil
	}
	if err != nil {
		return "", sourceErr(fmt.Sprintf("retrieving current configuration of:\nResource: %q, GroupVersionKind: %q\nName: %q, Namespace: %q\nfrom server for:", m.Resource.String(), gvk.String(), obj.GetName(), ns), mo.source, err)
	}
	currentJSON, err := json.Marshal(cur.Object)
	if err != nil {
		return "", err
	}
	original := []byte(cur.GetAnnotations()[lastAppliedAnnotation])
	var patch []byte
	var pt types.PatchType
	if versioned, err := scheme.Scheme.New(gvk); err == nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(versioned)
		if err != nil {
			return "", err
		}
		patch, err = strategicpatch.CreateThreeWayMergePatch(original, modified, currentJSON, meta, true)
		if err != nil {
			return "", errorf("creating patch for %s from %q: %v", name, mo.source, err)
		}
		pt = types.StrategicMergePatchType
	} else {
		patch, err = jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, currentJSON, mergepatch.RequireKeyUnchanged("apiVersion"), mergepatch.RequireKeyUnchanged("kind"), mergepatch.RequireMetadataKeyUnchanged("name"))
		if err != nil {
			if mergepatch.IsPreconditionFailed(err) {
				return "", errorf("at least one of apiVersion, kind and name was changed")
			}
			return "", errorf("creating patch for %s from %q: %v", name, mo.source, err)
		}
		pt = types.MergePatchType
	}
	if string(patch) == "{}" {
		return name + " unchanged", nil
	}
	if _, err := rc.Patch(ctx, obj.GetName(), pt, patch, metav1.PatchOptions{}); err != nil {
		return "", sourceErr(fmt.Sprintf("applying patch:\n%s\nto:\nResource: %q, GroupVersionKind: %q\nName: %q, Namespace: %q\nfor:", patch, m.Resource.String(), gvk.String(), obj.GetName(), ns), mo.source, err)
	}
	return name + " configured", nil
}

// withLastApplied sets the last-applied-configuration annotation of obj
// to obj's own JSON (without that annotation) and returns obj's JSON.
func withLastApplied(obj *unstructured.Unstructured) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	ann := acc.GetAnnotations()
	if ann != nil {
		delete(ann, lastAppliedAnnotation)
		if len(ann) == 0 {
			ann = nil
		}
		acc.SetAnnotations(ann)
	}
	orig, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[lastAppliedAnnotation] = string(orig) + "\n"
	acc.SetAnnotations(ann)
	return json.Marshal(obj.Object)
}

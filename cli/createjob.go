package cli

// wasmpod create job NAME --from=cronjob/X, as kubectl's create job
// (k8s.io/kubectl/pkg/cmd/create/create_job.go): a Job from a CronJob's
// jobTemplate, run now.

import (
	"fmt"
	"strings"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// instantiateAnnotation marks a Job made by hand from a CronJob.
const instantiateAnnotation = "cronjob.kubernetes.io/instantiate"

// withCreateJob gives the create command kubectl's "create job" form:
// "create job NAME --from=cronjob/X" (a first argument "job"); any other
// use of create is the command as it was.
func withCreateJob(cmd *cmdline.Command) *cmdline.Command {
	cmd.Flags = append(cmd.Flags,
		&cmdline.StringFlag{Name: "from", Usage: "create job only: the name of the resource to create a Job from (only CronJob is supported), as cronjob/NAME"},
		&cmdline.StringFlag{Name: "image", Usage: "create job only: not supported by wasmpod (use --from, or a manifest with -f)", Hidden: true},
	)
	cmd.UsageText = "wasmpod create -f FILENAME\n   wasmpod create job NAME --from=cronjob/CRONJOB"
	cmd.Description += `

  # Create a job from a cron job named "a-cronjob" (annotated
  # cronjob.kubernetes.io/instantiate=manual, owned by the cron job)
  wasmpod create job test-job --from=cronjob/a-cronjob`
	action := cmd.Action
	cmd.Action = func(c *cmdline.Context) error {
		if c.Args().First() == "job" {
			return createJob(c)
		}
		if c.IsSet("from") || c.IsSet("image") {
			return usageErr("--from and --image are flags of 'wasmpod create job NAME'")
		}
		return action(c)
	}
	return cmd
}

// createJob is kubectl's CreateJobOptions Complete, Validate and Run for
// --from.
func createJob(c *cmdline.Context) error {
	args := c.Args().Slice()[1:]
	if len(args) == 0 {
		return usageErr("NAME is required\nSee 'wasmpod create -h' for help and examples")
	}
	name, command := args[0], args[1:]
	from, image := c.String("from"), c.String("image")
	if (from == "") == (image == "") {
		return usageErr("either --image or --from must be specified")
	}
	if len(command) > 0 && from != "" {
		return usageErr("cannot specify --from and command")
	}
	if image != "" {
		return usageErr("wasmpod create job supports --from=cronjob/NAME only; for --image write a Job manifest and use 'wasmpod create -f'")
	}
	if len(c.StringSlice("filename")) > 0 {
		return usageErr("create job takes no -f")
	}
	typ, cjName, ok := strings.Cut(from, "/")
	if !ok || typ == "" || cjName == "" {
		return usageErr("from must be an existing cronjob, as cronjob/NAME")
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	m, err := k.mappingFor(typ)
	if err != nil {
		return k.fail(err)
	}
	if gk := m.GroupVersionKind.GroupKind(); gk != batchv1.SchemeGroupVersion.WithKind("CronJob").GroupKind() {
		return errorf("unknown object type %s: from must be an existing cronjob", gk.Kind)
	}
	ns := k.namespace(c)
	cj, err := k.cs.BatchV1().CronJobs(ns).Get(c.Context, cjName, metav1.GetOptions{})
	if err != nil {
		return k.fail(err)
	}
	job, err := k.cs.BatchV1().Jobs(ns).Create(c.Context, jobFromCronJob(cj, name, ns), metav1.CreateOptions{FieldManager: "kubectl-create"})
	if err != nil {
		return k.fail(fmt.Errorf("failed to create job: %v", err))
	}
	fmt.Fprintln(c.App.Writer, kindName(batchv1.SchemeGroupVersion.WithKind("Job").GroupKind(), job.Name)+" created")
	return nil
}

// jobFromCronJob is kubectl's createJobFromCronJob: the jobTemplate's
// labels, annotations (plus instantiate=manual) and spec, and an owner
// reference to the CronJob with controller true (no blockOwnerDeletion,
// as kubectl: that would need the cronjobs/finalizers permission).
func jobFromCronJob(cj *batchv1.CronJob, name, ns string) *batchv1.Job {
	ann := map[string]string{instantiateAnnotation: "manual"}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		ann[k] = v
	}
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   ns,
			Annotations: ann,
			Labels:      cj.Spec.JobTemplate.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: batchv1.SchemeGroupVersion.String(),
				Kind:       "CronJob",
				Name:       cj.Name,
				UID:        cj.UID,
				Controller: ptr.To(true),
			}},
		},
		Spec: cj.Spec.JobTemplate.Spec,
	}
}

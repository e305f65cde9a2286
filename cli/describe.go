package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

func describeCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "describe",
		Usage:     "Show details of a specific resource or group of resources",
		ArgsUsage: "(pod|node|rs|deploy|ds|job|cj|pdb) [NAME...] | TYPE/NAME",
		Description: `Prints a detailed description of pods and nodes, including their recent events.
Without a NAME, every object of the type (matching -l) is described.

Examples:
  # Describe a node
  wasmpod describe nodes node-1

  # Describe a pod
  wasmpod describe pods/nginx

  # Describe all pods with label name=myLabel
  wasmpod describe pods -l name=myLabel`,
		Flags: append(append(connFlags(), nsFlags(true)...),
			&cmdline.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "selector (label query) to filter on"},
			&cmdline.BoolFlag{Name: "show-events", Value: true, Usage: "if true, display events related to the described object"},
		),
		Action: describeAction,
	}
}

func describeAction(c *cmdline.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return errorf("You must specify the type of resource to describe. Use \"wasmpod describe pod NAME\" or \"wasmpod describe node NAME\".")
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	reqs, err := k.parseResourceArgs(args)
	if err != nil {
		return k.fail(err)
	}
	ns := k.namespace(c)
	if c.Bool("all-namespaces") {
		ns = ""
	}
	ctx := c.Context
	w := c.App.Writer
	// As kubectl's describe: first the objects (its builder's infos), then
	// each described; events only when there is a single object and no
	// error, unless --show-events is given.
	type target struct{ kind, ns, name string }
	var targets []target
	var errs []error
	for _, r := range reqs {
		gk := r.mapping.GroupVersionKind.GroupKind()
		if !describable(gk) { // describe_workloads.go
			return errorf("describe supports pods, nodes, replicasets, deployments, daemonsets, jobs, cronjobs, poddisruptionbudgets and horizontalpodautoscalers; %q is not supported yet", r.mapping.Resource.Resource)
		}
		rc := k.resourceClient(r.mapping, ns)
		if len(r.names) == 0 {
			opts := metav1.ListOptions{LabelSelector: c.String("selector")}
			l, err := listAll(ctx, rc, opts)
			if err != nil {
				return k.fail(enhanceListError(err, opts, r.mapping.Resource.String()))
			}
			sortItems(r.mapping, l.Items)
			for _, u := range l.Items {
				targets = append(targets, target{gk.Kind, u.GetNamespace(), u.GetName()})
			}
			continue
		}
		for _, n := range r.names {
			if _, err := rc.Get(ctx, n, metav1.GetOptions{}); err != nil {
				if isRefused(err) {
					return k.fail(err)
				}
				errs = append(errs, err)
				continue
			}
			targets = append(targets, target{gk.Kind, ns, n})
		}
	}
	events := c.Bool("show-events")
	if !c.IsSet("show-events") && (len(targets) > 1 || len(errs) > 0) {
		events = false
	}
	// "describe TYPE PREFIX" of no such object describes the objects whose
	// names begin with PREFIX (kubectl's DescribeMatchingResources).
	if len(errs) == 1 && apierrors.IsNotFound(errs[0]) && len(args) == 2 && !strings.Contains(args[0], "/") && len(reqs) == 1 {
		l, err := listAll(ctx, k.resourceClient(reqs[0].mapping, ns), metav1.ListOptions{})
		if err != nil {
			return k.fail(err)
		}
		sortItems(reqs[0].mapping, l.Items)
		found := false
		for _, u := range l.Items {
			if strings.HasPrefix(u.GetName(), args[1]) {
				found = true
				if err := k.describeOne(ctx, w, reqs[0].mapping.GroupVersionKind.Kind, u.GetNamespace(), u.GetName(), events); err != nil {
					return k.fail(err)
				}
				fmt.Fprintln(w)
			}
		}
		if found {
			return nil
		}
	}
	for i, t := range targets {
		if i > 0 {
			fmt.Fprint(w, "\n\n")
		}
		if err := k.describeOne(ctx, w, t.kind, t.ns, t.name, events); err != nil {
			errs = append(errs, err)
		}
	}
	if len(targets) == 0 && len(errs) == 0 {
		if ns != "" {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		} else {
			fmt.Fprintln(c.App.ErrWriter, "No resources found")
		}
	}
	return k.multiErr(errs)
}

func (k *conn) describeOne(ctx context.Context, w io.Writer, kind, ns, name string, events bool) error {
	switch kind {
	case "Pod":
		pod, err := k.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var evs []corev1.Event
		if events {
			evs = k.eventsFor(ctx, pod.Namespace, pod.Name, string(pod.UID), "Pod")
		}
		describePod(w, pod, evs, events, time.Now())
	case "Node":
		node, err := k.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// As kubectl's NodeDescriber: the node's non-terminated pods (nil
		// when the user may not list pods), its lease, and the events about
		// it by its UID and by its name as UID (the kubelet's).
		sel := fields.AndSelectors(fields.OneTermEqualSelector("spec.nodeName", name),
			fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
			fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)))
		var pods []corev1.Pod
		pl, err := k.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
		switch {
		case err == nil:
			pods = pl.Items
			if pods == nil {
				pods = []corev1.Pod{}
			}
		case !apierrors.IsForbidden(err):
			return err
		}
		lease, leaseErr := k.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
		var evs []corev1.Event
		if events {
			evs = k.eventsFor(ctx, "", node.Name, string(node.UID), "Node")
			evs = append(evs, k.eventsFor(ctx, "", node.Name, node.Name, "Node")...)
		}
		describeNode(w, node, pods, lease, leaseErr, evs, events, time.Now())
	default:
		return k.describeWorkload(ctx, w, kind, ns, name, events)
	}
	return nil
}

// eventsFor lists the events about an object (describeEvents sorts them).
func (k *conn) eventsFor(ctx context.Context, ns, name, uid, kind string) []corev1.Event {
	sel := fields.Set{"involvedObject.name": name, "involvedObject.kind": kind}
	if uid != "" {
		sel["involvedObject.uid"] = uid
	}
	if ns != "" {
		sel["involvedObject.namespace"] = ns
	}
	l, err := k.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.SelectorFromSet(sel).String()})
	if err != nil {
		return nil
	}
	return l.Items
}

// prefixWriter is kubectl's describe writer: levels of two-space indent
// over a tab writer.
type prefixWriter struct{ w io.Writer }

func (p prefixWriter) write(level int, format string, a ...any) {
	fmt.Fprintf(p.w, strings.Repeat("  ", level)+format, a...)
}

// flush writes out the aligned columns of a newPrefixWriter.
func (p prefixWriter) flush() {
	if tw, ok := p.w.(*tabwriter.Writer); ok {
		tw.Flush()
	}
}

// newPrefixWriter aligns columns as kubectl's describe does; a
// prefixWriter{w} keeps the tabs, as kubectl's rollout history does.
func newPrefixWriter(w io.Writer) prefixWriter {
	return prefixWriter{w: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

func rfc1123(t metav1.Time) string { return t.Time.Format(time.RFC1123Z) }

// writeMap prints labels or annotations, one per line, sorted.
func (p prefixWriter) writeMap(level int, title string, m map[string]string, sep string) {
	p.write(level, "%s:\t", title)
	if len(m) == 0 {
		p.write(0, "<none>\n")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		v := m[k]
		if len(v) > 140 {
			v = v[:140] + "..."
		}
		if i == 0 {
			p.write(0, "%s%s%s\n", k, sep, v)
		} else {
			p.write(level, "\t%s%s%s\n", k, sep, v)
		}
	}
}

func describePod(w io.Writer, pod *corev1.Pod, evs []corev1.Event, showEvents bool, now time.Time) {
	p := newPrefixWriter(w)
	p.write(0, "Name:\t%s\n", pod.Name)
	p.write(0, "Namespace:\t%s\n", pod.Namespace)
	prio := int32(0)
	if pod.Spec.Priority != nil {
		prio = *pod.Spec.Priority
	}
	p.write(0, "Priority:\t%d\n", prio)
	if pod.Spec.PriorityClassName != "" {
		p.write(0, "Priority Class Name:\t%s\n", pod.Spec.PriorityClassName)
	}
	if pod.Spec.RuntimeClassName != nil {
		p.write(0, "Runtime Class Name:\t%s\n", *pod.Spec.RuntimeClassName)
	}
	if pod.Spec.ServiceAccountName != "" {
		p.write(0, "Service Account:\t%s\n", pod.Spec.ServiceAccountName)
	}
	if pod.Spec.NodeName == "" {
		p.write(0, "Node:\t<none>\n")
	} else {
		p.write(0, "Node:\t%s\n", pod.Spec.NodeName+"/"+pod.Status.HostIP)
	}
	if pod.Status.StartTime != nil {
		p.write(0, "Start Time:\t%s\n", rfc1123(*pod.Status.StartTime))
	}
	p.writeMap(0, "Labels", pod.Labels, "=")
	p.writeMap(0, "Annotations", pod.Annotations, ": ")
	if pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		p.write(0, "Status:\tTerminating (lasts %s)\n", duration.HumanDuration(now.Sub(pod.DeletionTimestamp.Time)))
		if pod.DeletionGracePeriodSeconds != nil {
			p.write(0, "Termination Grace Period:\t%ds\n", *pod.DeletionGracePeriodSeconds)
		}
	} else {
		p.write(0, "Status:\t%s\n", string(pod.Status.Phase))
	}
	if pod.Status.Reason != "" {
		p.write(0, "Reason:\t%s\n", pod.Status.Reason)
	}
	if pod.Status.Message != "" {
		p.write(0, "Message:\t%s\n", strings.TrimSpace(pod.Status.Message))
	}
	p.write(0, "IP:\t%s\n", pod.Status.PodIP)
	if len(pod.Status.PodIPs) == 0 {
		p.write(0, "IPs:\t<none>\n")
	} else {
		p.write(0, "IPs:\n")
		for _, ip := range pod.Status.PodIPs {
			p.write(1, "IP:\t%s\n", ip.IP)
		}
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		p.write(0, "Controlled By:\t%s/%s\n", ref.Kind, ref.Name)
	}
	if pod.Status.NominatedNodeName != "" {
		p.write(0, "NominatedNodeName:\t%s\n", pod.Status.NominatedNodeName)
	}
	if len(pod.Spec.InitContainers) > 0 {
		describeContainers(p, "Init Containers", pod.Spec.InitContainers, pod.Status.InitContainerStatuses)
	}
	describeContainers(p, "Containers", pod.Spec.Containers, pod.Status.ContainerStatuses)
	if len(pod.Spec.ReadinessGates) > 0 {
		p.write(0, "Readiness Gates:\n  Type\tStatus\n")
		for _, g := range pod.Spec.ReadinessGates {
			st := "<none>"
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					st = string(c.Status)
				}
			}
			p.write(1, "%v \t%v \n", g.ConditionType, st)
		}
	}
	if len(pod.Status.Conditions) > 0 {
		p.write(0, "Conditions:\n  Type\tStatus\n")
		for _, c := range pod.Status.Conditions {
			p.write(1, "%v \t%v \n", c.Type, c.Status)
		}
	}
	describeVolumes(p, pod.Spec.Volumes)
	p.write(0, "QoS Class:\t%s\n", qosClass(pod))
	p.writeMap(0, "Node-Selectors", pod.Spec.NodeSelector, "=")
	p.write(0, "Tolerations:\t")
	if len(pod.Spec.Tolerations) == 0 {
		p.write(0, "<none>\n")
	}
	for i, t := range pod.Spec.Tolerations {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		} else if t.Operator == corev1.TolerationOpExists && t.Key != "" {
			s += ""
		}
		if t.Effect != "" {
			s += ":" + string(t.Effect)
		}
		if t.Operator == corev1.TolerationOpExists && t.Value == "" {
			if t.Key == "" {
				s = "op=Exists" + strings.TrimPrefix(s, "")
			} else {
				s += " op=Exists"
			}
		}
		if t.TolerationSeconds != nil {
			s += fmt.Sprintf(" for %ds", *t.TolerationSeconds)
		}
		if i == 0 {
			p.write(0, "%s\n", s)
		} else {
			p.write(0, "\t%s\n", s)
		}
	}
	if showEvents {
		describeEvents(p, evs, now)
	}
	p.flush()
}

func describeContainers(p prefixWriter, title string, cs []corev1.Container, sts []corev1.ContainerStatus) {
	describeContainersIn(p, "", title, cs, sts)
}

// describeContainersIn is describeContainers with kubectl's space: "  "
// inside a Pod Template (describe_workloads.go), "" in a pod.
func describeContainersIn(p prefixWriter, space, title string, cs []corev1.Container, sts []corev1.ContainerStatus) {
	none := ""
	if len(cs) == 0 {
		none = " <none>"
	}
	p.write(0, "%s%s:%s\n", space, title, none)
	for _, c := range cs {
		var st *corev1.ContainerStatus
		for i := range sts {
			if sts[i].Name == c.Name {
				st = &sts[i]
			}
		}
		p.write(1, "%s%v:\n", strings.Repeat(" ", min(len(space), 1)), c.Name)
		if st != nil {
			p.write(2, "Container ID:\t%s\n", st.ContainerID)
		}
		p.write(2, "Image:\t%s\n", c.Image)
		if st != nil {
			p.write(2, "Image ID:\t%s\n", st.ImageID)
		}
		ports, hostPorts := []string{}, []string{}
		for _, pt := range c.Ports {
			name := ""
			if pt.Name != "" {
				name = " (" + pt.Name + ")"
			}
			ports = append(ports, fmt.Sprintf("%d/%s%s", pt.ContainerPort, pt.Protocol, name))
			hostPorts = append(hostPorts, fmt.Sprintf("%d/%s%s", pt.HostPort, pt.Protocol, name))
		}
		if len(ports) == 0 {
			p.write(2, "Port:\t<none>\n")
			p.write(2, "Host Port:\t<none>\n")
		} else {
			label := "Port"
			if len(ports) > 1 {
				label = "Ports"
			}
			p.write(2, "%s:\t%s\n", label, strings.Join(ports, ", "))
			p.write(2, "Host %s:\t%s\n", label, strings.Join(hostPorts, ", "))
		}
		for _, pair := range []struct {
			name string
			v    []string
		}{{"Command", c.Command}, {"Args", c.Args}} {
			if len(pair.v) == 0 {
				continue
			}
			p.write(2, "%s:\n", pair.name)
			for _, a := range pair.v {
				for _, ln := range strings.Split(a, "\n") {
					p.write(3, "%s\n", ln)
				}
			}
		}
		if st != nil {
			describeState(p, "State", st.State)
			if st.LastTerminationState.Running != nil || st.LastTerminationState.Waiting != nil || st.LastTerminationState.Terminated != nil {
				describeState(p, "Last State", st.LastTerminationState)
			}
			p.write(2, "Ready:\t%v\n", printBool(st.Ready))
			p.write(2, "Restart Count:\t%d\n", st.RestartCount)
			if st.Started != nil && c.RestartPolicy != nil {
				p.write(2, "Started:\t%v\n", printBool(*st.Started))
			}
		}
		describeResources(p, 2, "Limits", c.Resources.Limits)
		describeResources(p, 2, "Requests", c.Resources.Requests)
		probe := func(name string, pr *corev1.Probe) {
			if pr == nil {
				return
			}
			p.write(2, "%s:\t%s delay=%ds timeout=%ds period=%ds successThreshold=%d failureThreshold=%d\n", name, probeAction(pr),
				pr.InitialDelaySeconds, pr.TimeoutSeconds, pr.PeriodSeconds, pr.SuccessThreshold, pr.FailureThreshold)
		}
		probe("Liveness", c.LivenessProbe)
		probe("Readiness", c.ReadinessProbe)
		probe("Startup", c.StartupProbe)
		if len(c.EnvFrom) > 0 {
			p.write(2, "Environment Variables from:\n")
			for _, e := range c.EnvFrom {
				switch {
				case e.ConfigMapRef != nil:
					p.write(3, "%s\tConfigMap\tOptional: %v\n", e.ConfigMapRef.Name, e.ConfigMapRef.Optional != nil && *e.ConfigMapRef.Optional)
				case e.SecretRef != nil:
					p.write(3, "%s\tSecret\tOptional: %v\n", e.SecretRef.Name, e.SecretRef.Optional != nil && *e.SecretRef.Optional)
				}
			}
		}
		if len(c.Env) == 0 {
			p.write(2, "Environment:\t<none>\n")
		} else {
			p.write(2, "Environment:\n")
			for _, e := range c.Env {
				switch {
				case e.ValueFrom == nil:
					for i, ln := range strings.Split(e.Value, "\n") {
						if i == 0 {
							p.write(3, "%s:\t%s\n", e.Name, ln)
						} else {
							p.write(3, "\t%s\n", ln)
						}
					}
				case e.ValueFrom.FieldRef != nil:
					p.write(3, "%s:\t (%s:%s)\n", e.Name, e.ValueFrom.FieldRef.APIVersion, e.ValueFrom.FieldRef.FieldPath)
				case e.ValueFrom.ConfigMapKeyRef != nil:
					p.write(3, "%s:\t<set to the key '%s' of config map '%s'>\tOptional: %v\n", e.Name, e.ValueFrom.ConfigMapKeyRef.Key, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Optional != nil && *e.ValueFrom.ConfigMapKeyRef.Optional)
				case e.ValueFrom.SecretKeyRef != nil:
					p.write(3, "%s:\t<set to the key '%s' in secret '%s'>\tOptional: %v\n", e.Name, e.ValueFrom.SecretKeyRef.Key, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Optional != nil && *e.ValueFrom.SecretKeyRef.Optional)
				case e.ValueFrom.ResourceFieldRef != nil:
					p.write(3, "%s:\t%s (%s)\n", e.Name, e.ValueFrom.ResourceFieldRef.Resource, c.Name)
				default:
					p.write(3, "%s:\t<set>\n", e.Name)
				}
			}
		}
		if len(c.VolumeMounts) == 0 {
			p.write(2, "Mounts:\t<none>\n")
		} else {
			p.write(2, "Mounts:\n")
			mounts := append([]corev1.VolumeMount(nil), c.VolumeMounts...)
			sort.SliceStable(mounts, func(i, j int) bool { return mounts[i].MountPath < mounts[j].MountPath })
			for _, m := range mounts {
				access := "rw"
				if m.ReadOnly {
					access = "ro"
				}
				if m.SubPath != "" {
					access += fmt.Sprintf(",path=%q", m.SubPath)
				}
				p.write(3, "%s from %s (%s)\n", m.MountPath, m.Name, access)
			}
		}
	}
}

func probeAction(pr *corev1.Probe) string {
	switch {
	case pr.Exec != nil:
		return fmt.Sprintf("exec %v", pr.Exec.Command)
	case pr.HTTPGet != nil:
		host := pr.HTTPGet.Host
		scheme := strings.ToLower(string(pr.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		return fmt.Sprintf("http-get %s://%s:%s%s", scheme, host, pr.HTTPGet.Port.String(), pr.HTTPGet.Path)
	case pr.TCPSocket != nil:
		return fmt.Sprintf("tcp-socket %s:%s", pr.TCPSocket.Host, pr.TCPSocket.Port.String())
	case pr.GRPC != nil:
		return fmt.Sprintf("grpc <pod>:%d %s", pr.GRPC.Port, ptr.Deref(pr.GRPC.Service, ""))
	}
	return "unknown"
}

func printBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func describeState(p prefixWriter, title string, s corev1.ContainerState) {
	switch {
	case s.Running != nil:
		p.write(2, "%s:\tRunning\n", title)
		p.write(3, "Started:\t%v\n", rfc1123(s.Running.StartedAt))
	case s.Waiting != nil:
		p.write(2, "%s:\tWaiting\n", title)
		if s.Waiting.Reason != "" {
			p.write(3, "Reason:\t%s\n", s.Waiting.Reason)
		}
		if s.Waiting.Message != "" {
			p.write(3, "Message:\t%s\n", s.Waiting.Message)
		}
	case s.Terminated != nil:
		p.write(2, "%s:\tTerminated\n", title)
		if s.Terminated.Reason != "" {
			p.write(3, "Reason:\t%s\n", s.Terminated.Reason)
		}
		if s.Terminated.Message != "" {
			p.write(3, "Message:\t%s\n", s.Terminated.Message)
		}
		p.write(3, "Exit Code:\t%d\n", s.Terminated.ExitCode)
		if s.Terminated.Signal > 0 {
			p.write(3, "Signal:\t%d\n", s.Terminated.Signal)
		}
		p.write(3, "Started:\t%s\n", rfc1123(s.Terminated.StartedAt))
		p.write(3, "Finished:\t%s\n", rfc1123(s.Terminated.FinishedAt))
	default:
		p.write(2, "%s:\tWaiting\n", title)
	}
}

// describeResources prints a resource list titled at indent level, its
// entries one level deeper, sorted by name.
func describeResources(p prefixWriter, level int, title string, rl corev1.ResourceList) {
	if len(rl) == 0 {
		return
	}
	p.write(level, "%s:\n", title)
	names := make([]string, 0, len(rl))
	for n := range rl {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		q := rl[corev1.ResourceName(n)]
		p.write(level+1, "%s:\t%s\n", n, q.String())
	}
}

func describeVolumes(p prefixWriter, vols []corev1.Volume) { describeVolumesIn(p, "", vols) }

// describeVolumesIn is describeVolumes with kubectl's space ("  " inside a
// Pod Template).
func describeVolumesIn(p prefixWriter, space string, vols []corev1.Volume) {
	if len(vols) == 0 {
		p.write(0, "%sVolumes:\t<none>\n", space)
		return
	}
	p.write(0, "%sVolumes:\n", space)
	for _, v := range vols {
		p.write(1, "%s%s:\n", strings.Repeat(" ", min(len(space), 1)), v.Name)
		switch {
		case v.EmptyDir != nil:
			p.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n")
			p.write(2, "Medium:\t%s\n", v.EmptyDir.Medium)
			if v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Cmp(resource.Quantity{}) > 0 {
				p.write(2, "SizeLimit:\t%s\n", v.EmptyDir.SizeLimit.String())
			} else {
				p.write(2, "SizeLimit:\t<unset>\n")
			}
		case v.HostPath != nil:
			t := ""
			if v.HostPath.Type != nil {
				t = string(*v.HostPath.Type)
			}
			p.write(2, "Type:\tHostPath (bare host directory volume)\n")
			p.write(2, "Path:\t%s\n", v.HostPath.Path)
			p.write(2, "HostPathType:\t%s\n", t)
		case v.ConfigMap != nil:
			p.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n")
			p.write(2, "Name:\t%s\n", v.ConfigMap.Name)
			p.write(2, "Optional:\t%v\n", v.ConfigMap.Optional != nil && *v.ConfigMap.Optional)
		case v.Projected != nil:
			p.write(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n")
			for _, src := range v.Projected.Sources {
				switch {
				case src.Secret != nil:
					p.write(2, "SecretName:\t%v\n", src.Secret.Name)
					p.write(2, "Optional:\t%v\n", ptr.Deref(src.Secret.Optional, false))
				case src.DownwardAPI != nil:
					p.write(2, "DownwardAPI:\ttrue\n")
				case src.ConfigMap != nil:
					p.write(2, "ConfigMapName:\t%v\n", src.ConfigMap.Name)
					p.write(2, "Optional:\t%v\n", ptr.Deref(src.ConfigMap.Optional, false))
				case src.ServiceAccountToken != nil:
					p.write(2, "TokenExpirationSeconds:\t%d\n", ptr.Deref(src.ServiceAccountToken.ExpirationSeconds, 0))
				}
			}
		case v.Secret != nil:
			p.write(2, "Type:\tSecret (a volume populated by a Secret)\n")
			p.write(2, "SecretName:\t%s\n", v.Secret.SecretName)
			p.write(2, "Optional:\t%v\n", v.Secret.Optional != nil && *v.Secret.Optional)
		default:
			b, _ := yaml.Marshal(v.VolumeSource)
			p.write(2, "Type:\t%s\n", strings.TrimSpace(strings.SplitN(string(b), ":", 2)[0]))
		}
	}
}

// qosClass computes the pod's QoS class as the kubelet does, unless the
// status has it.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	any := false
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			r, hasR := c.Resources.Requests[n]
			l, hasL := c.Resources.Limits[n]
			if hasR && !r.IsZero() {
				any = true
				requests[n] = r
			}
			if hasL && !l.IsZero() {
				any = true
				limits[n] = l
			}
			if !hasL || l.IsZero() {
				guaranteed = false
			} else if hasR && r.Cmp(l) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func describeEvents(p prefixWriter, evs []corev1.Event, now time.Time) {
	if len(evs) == 0 {
		p.write(0, "Events:\t<none>\n")
		return
	}
	// As kubectl's DescribeEvents: sorted by lastTimestamp, the table
	// aligned on its own (the writer is flushed first), the source is the
	// component alone, and a field path prefixes the message.
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].LastTimestamp.Time.Before(evs[j].LastTimestamp.Time) })
	p.flush()
	p.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
	p.write(1, "----\t------\t----\t----\t-------\n")
	for i := range evs {
		e := &evs[i]
		first := age(e.EventTime.Time, now)
		if e.EventTime.IsZero() {
			first = age(e.FirstTimestamp.Time, now)
		}
		interval := first
		if e.Series != nil {
			interval = fmt.Sprintf("%s (x%d over %s)", age(e.Series.LastObservedTime.Time, now), e.Series.Count, first)
		} else if e.Count > 1 {
			interval = fmt.Sprintf("%s (x%d over %s)", age(e.LastTimestamp.Time, now), e.Count, first)
		}
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		msg := strings.TrimSpace(e.Message)
		if e.InvolvedObject.FieldPath != "" {
			msg = e.InvolvedObject.FieldPath + ": " + msg
		}
		p.write(1, "%v\t%v\t%s\t%v\t%v\n", e.Type, e.Reason, interval, from, eventMessage(msg))
	}
}

// eventMessage is an event's message as one cell of the Events table:
// trimmed as kubectl describe does, then cut at its first line break with
// "..." and with terminal escapes made harmless, as kubectl's table
// printer does for any cell (a raw newline would break the table; the
// whole message is in "wasmpod get events -o yaml").
func eventMessage(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.IndexAny(msg, "\f\n\r"); i >= 0 {
		msg = msg[:i] + "..."
	}
	return printers.EscapeTerminal(msg)
}

func describeNode(w io.Writer, node *corev1.Node, pods []corev1.Pod, lease *coordinationv1.Lease, leaseErr error, evs []corev1.Event, showEvents bool, now time.Time) {
	p := newPrefixWriter(w)
	p.write(0, "Name:\t%s\n", node.Name)
	roles := nodeRoles(node)
	p.write(0, "Roles:\t%s\n", roles)
	p.writeMap(0, "Labels", node.Labels, "=")
	p.writeMap(0, "Annotations", node.Annotations, ": ")
	p.write(0, "CreationTimestamp:\t%s\n", rfc1123(node.CreationTimestamp))
	p.write(0, "Taints:\t")
	if len(node.Spec.Taints) == 0 {
		p.write(0, "<none>\n")
	}
	for i, t := range node.Spec.Taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		s += ":" + string(t.Effect)
		if i == 0 {
			p.write(0, "%s\n", s)
		} else {
			p.write(0, "\t%s\n", s)
		}
	}
	p.write(0, "Unschedulable:\t%v\n", node.Spec.Unschedulable)
	if leaseErr != nil {
		p.write(0, "Lease:\tFailed to get lease: %s\n", leaseErr)
	} else {
		unset := func(t *metav1.MicroTime) string {
			if t == nil {
				return "<unset>"
			}
			return t.Time.Format(time.RFC1123Z)
		}
		p.write(0, "Lease:\n")
		p.write(1, "HolderIdentity:\t%s\n", ptr.Deref(lease.Spec.HolderIdentity, "<unset>"))
		p.write(1, "AcquireTime:\t%s\n", unset(lease.Spec.AcquireTime))
		p.write(1, "RenewTime:\t%s\n", unset(lease.Spec.RenewTime))
	}
	if len(node.Status.Conditions) > 0 {
		p.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
		p.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
		for _, c := range node.Status.Conditions {
			p.write(1, "%v \t%v \t%s \t%s \t%v \t%v\n", c.Type, c.Status, rfc1123(c.LastHeartbeatTime), rfc1123(c.LastTransitionTime), c.Reason, c.Message)
		}
	}
	p.write(0, "Addresses:\n")
	for _, a := range node.Status.Addresses {
		p.write(1, "%s:\t%s\n", a.Type, a.Address)
	}
	resList := func(title string, rl corev1.ResourceList) { describeResources(p, 0, title, rl) }
	resList("Capacity", node.Status.Capacity)
	resList("Allocatable", node.Status.Allocatable)
	ni := node.Status.NodeInfo
	p.write(0, "System Info:\n")
	p.write(1, "Machine ID:\t%s\n", ni.MachineID)
	p.write(1, "System UUID:\t%s\n", ni.SystemUUID)
	p.write(1, "Boot ID:\t%s\n", ni.BootID)
	p.write(1, "Kernel Version:\t%s\n", ni.KernelVersion)
	p.write(1, "OS Image:\t%s\n", ni.OSImage)
	p.write(1, "Operating System:\t%s\n", ni.OperatingSystem)
	p.write(1, "Architecture:\t%s\n", ni.Architecture)
	p.write(1, "Container Runtime Version:\t%s\n", ni.ContainerRuntimeVersion)
	p.write(1, "Kubelet Version:\t%s\n", ni.KubeletVersion)
	if node.Spec.PodCIDR != "" {
		p.write(0, "PodCIDR:\t%s\n", node.Spec.PodCIDR)
	}
	if len(node.Spec.PodCIDRs) > 0 {
		p.write(0, "PodCIDRs:\t%s\n", strings.Join(node.Spec.PodCIDRs, ","))
	}
	if node.Spec.ProviderID != "" {
		p.write(0, "ProviderID:\t%s\n", node.Spec.ProviderID)
	}
	if pods != nil {
		describeNodeResource(p, node, pods, now)
	} else {
		p.write(0, "Pods:\tnot authorized\n")
	}
	if showEvents {
		describeEvents(p, evs, now)
	}
	p.flush()
}

// describeNodeResource is kubectl's: each non-terminated pod's requests
// and limits (component-helpers' PodRequests/PodLimits: init containers,
// sidecars, overhead and pod-level resources counted as the scheduler
// does) as fractions of the allocatable, then their totals, with
// ephemeral storage, huge pages and extended resources. The fractions are
// computed as kubectl computes them, division by a zero allocatable
// included.
func describeNodeResource(p prefixWriter, node *corev1.Node, pods []corev1.Pod, now time.Time) {
	p.write(0, "Non-terminated Pods:\t(%d in total)\n", len(pods))
	p.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
	p.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
	alloc := node.Status.Capacity
	if len(node.Status.Allocatable) > 0 {
		alloc = node.Status.Allocatable
	}
	for i := range pods {
		pod := &pods[i]
		req := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{UseStatusResources: true})
		lim := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{UseStatusResources: true})
		cr, cl, mr, ml := req[corev1.ResourceCPU], lim[corev1.ResourceCPU], req[corev1.ResourceMemory], lim[corev1.ResourceMemory]
		fcr := float64(cr.MilliValue()) / float64(alloc.Cpu().MilliValue()) * 100
		fcl := float64(cl.MilliValue()) / float64(alloc.Cpu().MilliValue()) * 100
		fmr := float64(mr.Value()) / float64(alloc.Memory().Value()) * 100
		fml := float64(ml.Value()) / float64(alloc.Memory().Value()) * 100
		p.write(1, "%s\t%s\t\t%s (%d%%)\t%s (%d%%)\t%s (%d%%)\t%s (%d%%)\t%s\n", pod.Namespace, pod.Name,
			cr.String(), int64(fcr), cl.String(), int64(fcl), mr.String(), int64(fmr), ml.String(), int64(fml),
			age(pod.CreationTimestamp.Time, now))
	}
	p.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
	p.write(1, "Resource\tRequests\tLimits\n")
	p.write(1, "--------\t--------\t------\n")
	reqs, lims := map[corev1.ResourceName]resource.Quantity{}, map[corev1.ResourceName]resource.Quantity{}
	add := func(dst map[corev1.ResourceName]resource.Quantity, src corev1.ResourceList) {
		for n, q := range src {
			if cur, ok := dst[n]; ok {
				cur.Add(q)
				dst[n] = cur
			} else {
				dst[n] = q.DeepCopy()
			}
		}
	}
	for i := range pods {
		add(reqs, resourcehelper.PodRequests(&pods[i], resourcehelper.PodResourcesOptions{}))
		add(lims, resourcehelper.PodLimits(&pods[i], resourcehelper.PodResourcesOptions{}))
	}
	frac := func(n corev1.ResourceName, q resource.Quantity) int64 {
		total := alloc[n]
		if n == corev1.ResourceCPU {
			if total.MilliValue() == 0 {
				return 0
			}
			return int64(float64(q.MilliValue()) / float64(total.MilliValue()) * 100)
		}
		if total.Value() == 0 {
			return 0
		}
		return int64(float64(q.Value()) / float64(total.Value()) * 100)
	}
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		r, l := reqs[n], lims[n]
		p.write(1, "%s\t%s (%d%%)\t%s (%d%%)\n", n, r.String(), frac(n, r), l.String(), frac(n, l))
	}
	var ext, huge []string
	for n := range alloc {
		switch {
		case strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix):
			huge = append(huge, string(n))
		case n != corev1.ResourceCPU && n != corev1.ResourceMemory && n != corev1.ResourceEphemeralStorage && n != corev1.ResourcePods:
			ext = append(ext, string(n))
		}
	}
	sort.Strings(ext)
	sort.Strings(huge)
	for _, h := range huge {
		n := corev1.ResourceName(h)
		r, l := reqs[n], lims[n]
		p.write(1, "%s\t%s (%d%%)\t%s (%d%%)\n", n, r.String(), frac(n, r), l.String(), frac(n, l))
	}
	for _, e := range ext {
		r, l := reqs[corev1.ResourceName(e)], lims[corev1.ResourceName(e)]
		p.write(1, "%s\t%s\t%s\n", e, r.String(), l.String())
	}
}

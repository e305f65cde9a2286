package daemonset

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	schedcorev1 "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Labels and annotations of upstream's DaemonSet machinery.
const (
	// RevisionHashLabel (apps.DefaultDaemonSetUniqueLabelKey) is on the
	// ControllerRevisions and on the pods made from them.
	RevisionHashLabel = appsv1.DefaultDaemonSetUniqueLabelKey // controller-revision-hash
	// TemplateGenerationLabel (extensions.DaemonSetTemplateGenerationKey)
	// is the template generation a pod was made from.
	TemplateGenerationLabel = "pod-template-generation"
	// TemplateGenerationAnnotation is where apps/v1 keeps the DaemonSet's
	// spec.templateGeneration (set by the API server).
	TemplateGenerationAnnotation = appsv1.DeprecatedTemplateGeneration // deprecated.daemonset.template.generation
)

// defaultTolerations are the tolerations every daemon pod gets
// (upstream's util.AddOrUpdateDaemonPodTolerations): not-ready and
// unreachable NoExecute, the node-pressure and unschedulable NoSchedule
// taints, and network-unavailable for host-network pods.
func addDaemonTolerations(spec *corev1.PodSpec) {
	add := func(key string, effect corev1.TaintEffect) {
		t := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
		for i := range spec.Tolerations {
			// v1helper.AddOrUpdateTolerationInPodSpec: same key, operator,
			// value and effect is the same toleration (replaced).
			o := spec.Tolerations[i]
			if o.Key == t.Key && o.Operator == t.Operator && o.Value == t.Value && o.Effect == t.Effect {
				spec.Tolerations[i] = t
				return
			}
		}
		spec.Tolerations = append(spec.Tolerations, t)
	}
	add(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	if spec.HostNetwork {
		add(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
}

// newPod is the pod the DaemonSet would run on node, for the scheduling
// checks (upstream's NewPod).
func newPod(ds *appsv1.DaemonSet, node string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy(), Spec: *ds.Spec.Template.Spec.DeepCopy()}
	p.Namespace = ds.Namespace
	p.Spec.NodeName = node
	addDaemonTolerations(&p.Spec)
	return p
}

// nodeShouldRunDaemonPod is upstream's NodeShouldRunDaemonPod: shouldRun
// when the node fits the template's nodeName, nodeSelector and required
// node affinity and every NoSchedule/NoExecute taint is tolerated;
// shouldContinueRunning also when only NoSchedule taints are not (a pod
// already there stays).
func nodeShouldRunDaemonPod(node *corev1.Node, ds *appsv1.DaemonSet) (shouldRun, shouldContinueRunning bool) {
	if n := ds.Spec.Template.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	p := newPod(ds, node.Name)
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(p).Match(node); err != nil || !ok {
		return false, false
	}
	logger := klog.Background()
	if _, untolerated := schedcorev1.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, p.Spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoExecute || t.Effect == corev1.TaintEffectNoSchedule
	}, false); !untolerated {
		return true, true
	}
	_, untoleratedNoExecute := schedcorev1.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, p.Spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoExecute
	}, false)
	return false, !untoleratedNoExecute
}

// replaceNodeNameAffinity makes the pod's required node affinity a single
// term matchFields metadata.name In [node] (upstream's
// ReplaceDaemonSetPodNodeNameNodeAffinity): the scheduler then binds it
// there, and its other constraints were checked by the controller.
func replaceNodeNameAffinity(a *corev1.Affinity, node string) *corev1.Affinity {
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
		{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}
	if a == nil {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel}}
	}
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
	return a
}

// targetNodeName is the node a daemon pod is for: its spec.nodeName, or
// the node its matchFields metadata.name affinity names (upstream's
// GetTargetNodeName).
func targetNodeName(p *corev1.Pod) (string, error) {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName, nil
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		if len(terms) >= 1 {
			for _, f := range terms[0].MatchFields {
				if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
					return f.Values[0], nil
				}
			}
		}
	}
	return "", fmt.Errorf("no node name found for pod %s/%s", p.Namespace, p.Name)
}

// templateGeneration is the DaemonSet's template generation from the
// apps/v1 annotation; nil when absent or unparsable
// (util.GetTemplateGeneration).
func templateGeneration(ds *appsv1.DaemonSet) *int64 {
	v, ok := ds.Annotations[TemplateGenerationAnnotation]
	if !ok {
		return nil
	}
	g, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &g
}

// podTemplate is the template of the DaemonSet's new pods
// (util.CreatePodTemplate): the default tolerations and the
// pod-template-generation and controller-revision-hash labels.
func podTemplate(ds *appsv1.DaemonSet, hash string) *corev1.PodTemplateSpec {
	t := ds.Spec.Template.DeepCopy()
	addDaemonTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	if g := templateGeneration(ds); g != nil {
		t.Labels[TemplateGenerationLabel] = strconv.FormatInt(*g, 10)
	}
	if hash != "" {
		t.Labels[RevisionHashLabel] = hash
	}
	return t
}

// isPodUpdated: the pod carries the current revision's hash, or the
// current template generation (util.IsPodUpdated).
func isPodUpdated(p *corev1.Pod, hash string, gen *int64) bool {
	templateMatches := gen != nil && p.Labels[TemplateGenerationLabel] == strconv.FormatInt(*gen, 10)
	hashMatches := hash != "" && p.Labels[RevisionHashLabel] == hash
	return hashMatches || templateMatches
}

// surgeCount and unavailableCount are maxSurge and maxUnavailable scaled
// to the desired pods, rounding up (util.SurgeCount, util.UnavailableCount).
func surgeCount(ds *appsv1.DaemonSet, n int) (int, error) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, n, true)
}

func unavailableCount(ds *appsv1.DaemonSet, n int) (int, error) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxUnavailable == nil {
		return 0, nil
	}
	return intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, n, true)
}

// allowsSurge: a RollingUpdate whose maxSurge is not 0 (util.AllowsSurge).
func allowsSurge(ds *appsv1.DaemonSet) bool {
	n, err := surgeCount(ds, 1)
	return err == nil && n != 0
}

// computeHash is upstream's controller.ComputeHash: FNV-32a of the
// template's deep dump, then the collision count, as safe characters.
func computeHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*t))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// RevisionData is what a ControllerRevision of the DaemonSet holds: a
// strategic merge patch that puts back its spec.template
// ({"spec":{"template":{...,"$patch":"replace"}}}), byte for byte as
// upstream's getPatch and kubectl's rollback compute it (JSON object keys
// sorted), so that kubectl rollout undo recognises the current revision
// (and `wasmpod rollout undo` compares the current template with it).
func RevisionData(ds *appsv1.DaemonSet) ([]byte, error) {
	b, err := json.Marshal(ds)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	spec, _ := raw["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	if tmpl == nil {
		tmpl = map[string]any{}
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// podByCreationTimestampAndPhase orders a node's daemon pods: scheduled
// before unscheduled, then older first, then by name
// (upstream's podByCreationTimestampAndPhase).
type podByCreationTimestampAndPhase []*corev1.Pod

func (o podByCreationTimestampAndPhase) Len() int      { return len(o) }
func (o podByCreationTimestampAndPhase) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o podByCreationTimestampAndPhase) Less(i, j int) bool {
	if (o[i].Spec.NodeName == "") != (o[j].Spec.NodeName == "") {
		return o[i].Spec.NodeName != ""
	}
	if o[i].CreationTimestamp.Equal(&o[j].CreationTimestamp) {
		return o[i].Name < o[j].Name
	}
	return o[i].CreationTimestamp.Before(&o[j].CreationTimestamp)
}

package scheduler

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// nodeTerm is a compiled NodeSelectorTerm, with the semantics of
// k8s.io/component-helpers/scheduling/corev1/nodeaffinity (a term with a
// parse error or with no requirements matches nothing; matchFields supports
// In/NotIn with one value against metadata.name), compiled once per pod so
// matching a node allocates nothing.
type nodeTerm struct {
	labels labels.Selector // nil: no matchExpressions
	fields []fieldReq
	err    error
	weight int64
}

type fieldReq struct {
	key, value string
	equal      bool
}

func compileNodeTerm(t *corev1.NodeSelectorTerm) nodeTerm {
	var nt nodeTerm
	var errs []error
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		nt.err = errors.New("empty node selector term")
		return nt
	}
	if len(t.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for i, e := range t.MatchExpressions {
			var op selection.Operator
			switch e.Operator {
			case corev1.NodeSelectorOpIn:
				op = selection.In
			case corev1.NodeSelectorOpNotIn:
				op = selection.NotIn
			case corev1.NodeSelectorOpExists:
				op = selection.Exists
			case corev1.NodeSelectorOpDoesNotExist:
				op = selection.DoesNotExist
			case corev1.NodeSelectorOpGt:
				op = selection.GreaterThan
			case corev1.NodeSelectorOpLt:
				op = selection.LessThan
			default:
				errs = append(errs, fmt.Errorf("matchExpressions[%d].operator: unsupported value %q", i, e.Operator))
				continue
			}
			r, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				errs = append(errs, fmt.Errorf("matchExpressions[%d]: %w", i, err))
				continue
			}
			sel = sel.Add(*r)
		}
		nt.labels = sel
	}
	for i, f := range t.MatchFields {
		if f.Operator != corev1.NodeSelectorOpIn && f.Operator != corev1.NodeSelectorOpNotIn {
			errs = append(errs, fmt.Errorf("matchFields[%d].operator: unsupported value %q", i, f.Operator))
			continue
		}
		if len(f.Values) != 1 {
			errs = append(errs, fmt.Errorf("matchFields[%d].values: must have one element", i))
			continue
		}
		nt.fields = append(nt.fields, fieldReq{key: f.Key, value: f.Values[0], equal: f.Operator == corev1.NodeSelectorOpIn})
	}
	nt.err = errors.Join(errs...)
	return nt
}

func (t *nodeTerm) matches(n *corev1.Node) bool {
	if t.err != nil {
		return false
	}
	if t.labels != nil && !t.labels.Matches(labels.Set(n.Labels)) {
		return false
	}
	if n.Name == "" { // upstream: no fields to match against
		return true
	}
	for _, f := range t.fields {
		v := ""
		if f.key == "metadata.name" {
			v = n.Name
		}
		if (v == f.value) != f.equal {
			return false
		}
	}
	return true
}

// requiredAffinity is spec.nodeSelector AND (any of the required terms).
type requiredAffinity struct {
	selector labels.Selector // nil: no nodeSelector
	terms    []nodeTerm      // nil: no required node affinity
	hasTerms bool
}

func newRequiredAffinity(p *corev1.Pod) *requiredAffinity {
	ra := &requiredAffinity{}
	if len(p.Spec.NodeSelector) > 0 {
		ra.selector = labels.SelectorFromSet(p.Spec.NodeSelector)
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		ra.hasTerms = true
		for i := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			ra.terms = append(ra.terms, compileNodeTerm(&a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[i]))
		}
	}
	if ra.selector == nil && !ra.hasTerms {
		return nil
	}
	return ra
}

func (ra *requiredAffinity) matches(n *corev1.Node) bool {
	if ra.selector != nil && !ra.selector.Matches(labels.Set(n.Labels)) {
		return false
	}
	if !ra.hasTerms {
		return true
	}
	for i := range ra.terms {
		if ra.terms[i].matches(n) {
			return true
		}
	}
	return false
}

// newPreferredTerms compiles preferred terms, skipping weight-0 and empty
// ones and failing on a parse error, like upstream's NewPreferredSchedulingTerms.
func newPreferredTerms(terms []corev1.PreferredSchedulingTerm) ([]nodeTerm, error) {
	var out []nodeTerm
	var errs []error
	for i := range terms {
		t := &terms[i]
		if t.Weight == 0 || (len(t.Preference.MatchExpressions) == 0 && len(t.Preference.MatchFields) == 0) {
			continue
		}
		nt := compileNodeTerm(&t.Preference)
		if nt.err != nil {
			errs = append(errs, fmt.Errorf("[%d].preference.%w", i, nt.err))
			continue
		}
		nt.weight = int64(t.Weight)
		out = append(out, nt)
	}
	return out, errors.Join(errs...)
}

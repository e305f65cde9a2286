package apiserver

// rbac.go: rbac.authorization.k8s.io/v1 Roles, ClusterRoles, RoleBindings
// and ClusterRoleBindings (served kinds, with upstream's validation and
// escalation prevention), and the RBAC rule evaluation the authorizer
// (rbac_authz.go) and the review APIs (authreview.go) use, as
// kube-apiserver's RBAC authorizer:
//
//   - a user's rules in a namespace are those of the ClusterRoles bound to
//     them by ClusterRoleBindings, then those of the Roles and ClusterRoles
//     bound by the RoleBindings of that namespace;
//   - subjects match by user name, group, or ServiceAccount
//     ("system:serviceaccount:NS:NAME");
//   - a rule allows a request when its verbs, apiGroups, resources
//     ("pods", "pods/log", "*/scale", "*") and resourceNames match, or, for
//     a non-resource request, its verbs and nonResourceURLs ("/healthz",
//     "/apis/*", "*") do;
//   - a ClusterRole with an aggregationRule also has the rules of the
//     ClusterRoles its selectors match (resolved when evaluated, not by a
//     controller);
//   - system:masters may do everything (rbac_authz.go), bound or not.
//
// Escalation prevention: a user may create or update a Role or ClusterRole
// only with rules they hold themselves (in the Role's namespace; cluster
// wide for a ClusterRole), or with the "escalate" verb on it; and a
// RoleBinding or ClusterRoleBinding only to a role whose rules they hold,
// or with the "bind" verb on that role. An aggregationRule needs escalate.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"

	"github.com/wasmpod/wasmpod/store"
)

// rbacResources are the served RBAC kinds.
func rbacResources() []*Resource {
	gv := rbacv1.SchemeGroupVersion
	roles := &Resource{GVR: gv.WithResource("roles"), Kind: "Role", Namespaced: true,
		newObj: func() runtime.Object { return &rbacv1.Role{} }, newList: func() runtime.Object { return &rbacv1.RoleList{} }}
	roles.validate = func(s *Server, obj runtime.Object) error { return validateRole(obj) }
	roles.validateUpdate = func(s *Server, obj, old runtime.Object) error { return validateRole(obj) }
	roles.admit = admitRole

	croles := &Resource{GVR: gv.WithResource("clusterroles"), Kind: "ClusterRole",
		newObj: func() runtime.Object { return &rbacv1.ClusterRole{} }, newList: func() runtime.Object { return &rbacv1.ClusterRoleList{} }}
	croles.validate = func(s *Server, obj runtime.Object) error { return validateRole(obj) }
	croles.validateUpdate = func(s *Server, obj, old runtime.Object) error { return validateRole(obj) }
	croles.admit = admitRole

	rbs := &Resource{GVR: gv.WithResource("rolebindings"), Kind: "RoleBinding", Namespaced: true,
		newObj: func() runtime.Object { return &rbacv1.RoleBinding{} }, newList: func() runtime.Object { return &rbacv1.RoleBindingList{} }}
	rbs.validate = func(s *Server, obj runtime.Object) error { return validateBinding(obj, nil) }
	rbs.validateUpdate = func(s *Server, obj, old runtime.Object) error { return validateBinding(obj, old) }
	rbs.admit = admitBinding

	crbs := &Resource{GVR: gv.WithResource("clusterrolebindings"), Kind: "ClusterRoleBinding",
		newObj: func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }, newList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} }}
	crbs.validate = func(s *Server, obj runtime.Object) error { return validateBinding(obj, nil) }
	crbs.validateUpdate = func(s *Server, obj, old runtime.Object) error { return validateBinding(obj, old) }
	crbs.admit = admitBinding
	return []*Resource{roles, croles, rbs, crbs}
}

// --- validation (upstream's pkg/apis/rbac/validation) ----------------------

func validateRBACName(name string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range path.IsValidPathSegmentName(name) {
		errs = append(errs, field.Invalid(fld, name, msg))
	}
	return errs
}

func validateRole(obj runtime.Object) error {
	var (
		om         metav1.ObjectMeta
		rules      []rbacv1.PolicyRule
		namespaced bool
		kind       string
		agg        *rbacv1.AggregationRule
	)
	switch r := obj.(type) {
	case *rbacv1.Role:
		om, rules, namespaced, kind = r.ObjectMeta, r.Rules, true, "Role"
	case *rbacv1.ClusterRole:
		om, rules, kind, agg = r.ObjectMeta, r.Rules, "ClusterRole", r.AggregationRule
	}
	errs := validateRBACName(om.Name, field.NewPath("metadata", "name"))
	for i, rule := range rules {
		errs = append(errs, validatePolicyRule(rule, namespaced, field.NewPath("rules").Index(i))...)
	}
	if agg != nil {
		if len(agg.ClusterRoleSelectors) == 0 {
			errs = append(errs, field.Required(field.NewPath("aggregationRule", "clusterRoleSelectors"), "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i, sel := range agg.ClusterRoleSelectors {
			if _, err := metav1.LabelSelectorAsSelector(&sel); err != nil {
				errs = append(errs, field.Invalid(field.NewPath("aggregationRule", "clusterRoleSelectors").Index(i), sel, err.Error()))
			}
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: rbacv1.GroupName, Kind: kind}, om.Name, errs)
	}
	return nil
}

func validatePolicyRule(rule rbacv1.PolicyRule, namespaced bool, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(rule.Verbs) == 0 {
		errs = append(errs, field.Required(fld.Child("verbs"), "verbs must contain at least one value"))
	}
	if len(rule.NonResourceURLs) > 0 {
		if namespaced {
			errs = append(errs, field.Invalid(fld.Child("nonResourceURLs"), rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
		}
		if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
			errs = append(errs, field.Invalid(fld.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
		return errs
	}
	if len(rule.APIGroups) == 0 {
		errs = append(errs, field.Required(fld.Child("apiGroups"), "resource rules must supply at least one api group"))
	}
	if len(rule.Resources) == 0 {
		errs = append(errs, field.Required(fld.Child("resources"), "resource rules must supply at least one resource"))
	}
	return errs
}

func bindingParts(obj runtime.Object) (om metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, kind string) {
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		return b.ObjectMeta, b.RoleRef, b.Subjects, "RoleBinding"
	case *rbacv1.ClusterRoleBinding:
		return b.ObjectMeta, b.RoleRef, b.Subjects, "ClusterRoleBinding"
	}
	return
}

func validateBinding(obj, old runtime.Object) error {
	om, ref, subjects, kind := bindingParts(obj)
	errs := validateRBACName(om.Name, field.NewPath("metadata", "name"))
	refPath := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(refPath.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if kind == "RoleBinding" {
		kinds = []string{"Role", "ClusterRole"}
	}
	okKind := false
	for _, k := range kinds {
		okKind = okKind || ref.Kind == k
	}
	if !okKind {
		errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(refPath.Child("name"), ""))
	} else {
		errs = append(errs, validateRBACName(ref.Name, refPath.Child("name"))...)
	}
	for i, sub := range subjects {
		errs = append(errs, validateSubject(sub, kind == "RoleBinding", field.NewPath("subjects").Index(i))...)
	}
	if old != nil {
		_, oldRef, _, _ := bindingParts(old)
		if oldRef != ref {
			errs = append(errs, field.Invalid(refPath, ref, "cannot change roleRef"))
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: rbacv1.GroupName, Kind: kind}, om.Name, errs)
	}
	return nil
}

func validateSubject(sub rbacv1.Subject, namespaced bool, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sub.Name == "" {
		errs = append(errs, field.Required(fld.Child("name"), ""))
	}
	switch sub.Kind {
	case rbacv1.ServiceAccountKind:
		if sub.Name != "" {
			for _, msg := range validation.IsDNS1123Subdomain(sub.Name) {
				errs = append(errs, field.Invalid(fld.Child("name"), sub.Name, msg))
			}
		}
		if sub.APIGroup != "" {
			errs = append(errs, field.NotSupported(fld.Child("apiGroup"), sub.APIGroup, []string{""}))
		}
		if !namespaced && sub.Namespace == "" {
			errs = append(errs, field.Required(fld.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if sub.APIGroup != rbacv1.GroupName {
			errs = append(errs, field.NotSupported(fld.Child("apiGroup"), sub.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(fld.Child("kind"), sub.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}

// --- rule resolution --------------------------------------------------------

// ruleVisitor sees each rule that applies (source says which binding gave
// it), or an error; it returns false to stop.
type ruleVisitor func(source string, rule *rbacv1.PolicyRule, err error) bool

func (s *Server) rbacResource(name string) *Resource { return s.resources[rbacv1.GroupName+"/"+name] }

// visitRules visits the rules that apply to u in namespace ns (cluster-wide
// rules only when ns is empty), as upstream's VisitRulesFor.
func (s *Server) visitRules(ctx context.Context, u user.Info, ns string, visit ruleVisitor) {
	crbs, err := s.rbacList(ctx, "clusterrolebindings", "")
	if err != nil {
		if !visit("", nil, err) {
			return
		}
	} else {
		for _, o := range crbs {
			b := o.(*rbacv1.ClusterRoleBinding)
			sub, ok := appliesTo(u, b.Subjects, "")
			if !ok {
				continue
			}
			rules, err := s.roleRefRules(ctx, b.RoleRef, "")
			if err != nil && !visit("", nil, err) {
				return
			}
			src := fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, describeSubject(sub, ""))
			for j := range rules {
				if !visit(src, &rules[j], nil) {
					return
				}
			}
		}
	}
	if ns == "" {
		return
	}
	rbs, err := s.rbacList(ctx, "rolebindings", ns)
	if err != nil {
		visit("", nil, err)
		return
	}
	for _, o := range rbs {
		b := o.(*rbacv1.RoleBinding)
		sub, ok := appliesTo(u, b.Subjects, ns)
		if !ok {
			continue
		}
		rules, err := s.roleRefRules(ctx, b.RoleRef, ns)
		if err != nil && !visit("", nil, err) {
			return
		}
		src := fmt.Sprintf("RoleBinding %q of %s %q to %s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, describeSubject(sub, ns))
		for j := range rules {
			if !visit(src, &rules[j], nil) {
				return
			}
		}
	}
}

func describeSubject(s *rbacv1.Subject, bindingNamespace string) string {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return fmt.Sprintf("%s %q", s.Kind, ns+"/"+s.Name)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

// appliesTo returns the first subject that names u.
func appliesTo(u user.Info, subjects []rbacv1.Subject, ns string) (*rbacv1.Subject, bool) {
	for i := range subjects {
		sub := &subjects[i]
		switch sub.Kind {
		case rbacv1.UserKind:
			if u.GetName() == sub.Name {
				return sub, true
			}
		case rbacv1.GroupKind:
			for _, g := range u.GetGroups() {
				if g == sub.Name {
					return sub, true
				}
			}
		case rbacv1.ServiceAccountKind:
			saNS := sub.Namespace
			if saNS == "" {
				saNS = ns
			}
			if saNS != "" && u.GetName() == serviceaccount.MakeUsername(saNS, sub.Name) {
				return sub, true
			}
		}
	}
	return nil, false
}

// roleRefRules returns the rules of the role a binding refers to.
func (s *Server) roleRefRules(ctx context.Context, ref rbacv1.RoleRef, ns string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		obj, err := s.rbacGet(ctx, "roles", ns, ref.Name)
		if err != nil {
			return nil, err
		}
		return obj.(*rbacv1.Role).Rules, nil
	case "ClusterRole":
		obj, err := s.rbacGet(ctx, "clusterroles", "", ref.Name)
		if err != nil {
			return nil, err
		}
		return s.clusterRoleRules(ctx, obj.(*rbacv1.ClusterRole))
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

// clusterRoleRules: a ClusterRole's rules and, with an aggregationRule,
// those of the ClusterRoles its selectors match (transitively).
func (s *Server) clusterRoleRules(ctx context.Context, cr *rbacv1.ClusterRole) ([]rbacv1.PolicyRule, error) {
	if cr.AggregationRule == nil {
		return cr.Rules, nil
	}
	all, err := s.rbacList(ctx, "clusterroles", "")
	if err != nil {
		return cr.Rules, err
	}
	seen := map[string]bool{cr.Name: true}
	rules := append([]rbacv1.PolicyRule(nil), cr.Rules...)
	queue := []*rbacv1.ClusterRole{cr}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur.AggregationRule == nil {
			continue
		}
		for _, ls := range cur.AggregationRule.ClusterRoleSelectors {
			sel, err := metav1.LabelSelectorAsSelector(&ls)
			if err != nil {
				continue
			}
			for _, o := range all {
				c := o.(*rbacv1.ClusterRole)
				if seen[c.Name] || !sel.Matches(labels.Set(c.Labels)) {
					continue
				}
				seen[c.Name] = true
				rules = append(rules, c.Rules...)
				queue = append(queue, c)
			}
		}
	}
	return rules, nil
}

// rbacCache keeps the RBAC objects decoded, by key and revision: the
// authorizer reads the bindings and roles on every request, and decoding
// them each time cost about 18 times a GET of a ConfigMap
// (BenchmarkRBACGetConfigMap). Cached objects are shared: read only.
type rbacCache struct {
	mu   sync.Mutex
	objs map[string]rbacCached
}

type rbacCached struct {
	rev int64
	obj runtime.Object
}

func (s *Server) rbacDecode(r *Resource, kv store.KV) (runtime.Object, error) {
	c := &s.rbac
	c.mu.Lock()
	if e, ok := c.objs[kv.Key]; ok && e.rev == kv.ModRevision {
		c.mu.Unlock()
		return e.obj, nil
	}
	c.mu.Unlock()
	obj, err := s.decode(r, kv)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.objs == nil {
		c.objs = map[string]rbacCached{}
	}
	c.objs[kv.Key] = rbacCached{kv.ModRevision, obj}
	c.mu.Unlock()
	return obj, nil
}

// rbacList lists an RBAC resource (read only), forgetting the cached
// objects under its prefix that are gone.
func (s *Server) rbacList(ctx context.Context, resource, ns string) ([]runtime.Object, error) {
	r := s.rbacResource(resource)
	prefix := r.prefix(ns)
	kvs, _, err := s.store.List(ctx, prefix)
	if err != nil {
		return nil, storeErr(r, "", err)
	}
	out := make([]runtime.Object, 0, len(kvs))
	live := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		obj, err := s.rbacDecode(r, kv)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
		live[kv.Key] = true
	}
	s.rbac.mu.Lock()
	for k := range s.rbac.objs {
		if strings.HasPrefix(k, prefix) && !live[k] {
			delete(s.rbac.objs, k)
		}
	}
	s.rbac.mu.Unlock()
	return out, nil
}

// rbacGet gets an RBAC object (read only).
func (s *Server) rbacGet(ctx context.Context, resource, ns, name string) (runtime.Object, error) {
	r := s.rbacResource(resource)
	kv, err := s.store.Get(ctx, r.key(ns, name))
	if err != nil {
		return nil, storeErr(r, name, err)
	}
	return s.rbacDecode(r, kv)
}

// rulesFor collects the rules of u in ns.
func (s *Server) rulesFor(ctx context.Context, u user.Info, ns string) ([]rbacv1.PolicyRule, []error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	s.visitRules(ctx, u, ns, func(_ string, r *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
		} else {
			rules = append(rules, *r)
		}
		return true
	})
	return rules, errs
}

// --- rule matching ----------------------------------------------------------

func hasOrStar(set []string, v string) bool {
	for _, s := range set {
		if s == v || s == rbacv1.VerbAll {
			return true
		}
	}
	return false
}

// ruleAllows reports whether rule allows the request a.
func ruleAllows(a authorizer.Attributes, rule *rbacv1.PolicyRule) bool {
	if !hasOrStar(rule.Verbs, a.GetVerb()) {
		return false
	}
	if !a.IsResourceRequest() {
		for _, u := range rule.NonResourceURLs {
			if u == rbacv1.NonResourceAll || u == a.GetPath() ||
				(strings.HasSuffix(u, "*") && strings.HasPrefix(a.GetPath(), strings.TrimSuffix(u, "*"))) {
				return true
			}
		}
		return false
	}
	if !hasOrStar(rule.APIGroups, a.GetAPIGroup()) {
		return false
	}
	combined := a.GetResource()
	if a.GetSubresource() != "" {
		combined += "/" + a.GetSubresource()
	}
	resOK := false
	for _, r := range rule.Resources {
		if r == rbacv1.ResourceAll || r == combined || (a.GetSubresource() != "" && r == "*/"+a.GetSubresource()) {
			resOK = true
			break
		}
	}
	if !resOK {
		return false
	}
	if len(rule.ResourceNames) == 0 {
		return true
	}
	for _, n := range rule.ResourceNames {
		if n == a.GetName() {
			return true
		}
	}
	return false
}

// --- escalation prevention --------------------------------------------------

// admitRole: creating or updating a Role or ClusterRole needs its rules or
// the escalate verb.
func admitRole(ctx context.Context, s *Server, obj, old runtime.Object) error {
	u := UserFrom(ctx)
	if isMaster(u) {
		return nil
	}
	var (
		name, ns string
		rules    []rbacv1.PolicyRule
		agg      bool
		resource = "roles"
	)
	switch r := obj.(type) {
	case *rbacv1.Role:
		name, ns, rules = r.Name, r.Namespace, r.Rules
	case *rbacv1.ClusterRole:
		name, rules, agg, resource = r.Name, r.Rules, r.AggregationRule != nil, "clusterroles"
	}
	gr := rbacv1.Resource(resource)
	if s.authorizeAttrs(ctx, authorizer.AttributesRecord{User: u, Verb: "escalate", Namespace: ns, APIGroup: rbacv1.GroupName,
		APIVersion: "v1", Resource: resource, Name: name, ResourceRequest: true}).allowed {
		return nil
	}
	if agg {
		if oldCR, ok := old.(*rbacv1.ClusterRole); !ok || !equalAggregation(oldCR.AggregationRule, obj.(*rbacv1.ClusterRole).AggregationRule) {
			return apierrors.NewForbidden(gr, name, fmt.Errorf("must have cluster-admin privileges to use the aggregationRule"))
		}
	}
	return s.confirmNoEscalation(ctx, u, gr, name, ns, rules)
}

func equalAggregation(a, b *rbacv1.AggregationRule) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// admitBinding: binding a role needs its rules or the bind verb on it.
func admitBinding(ctx context.Context, s *Server, obj, old runtime.Object) error {
	u := UserFrom(ctx)
	if isMaster(u) {
		return nil
	}
	om, ref, _, kind := bindingParts(obj)
	resource := "rolebindings"
	if kind == "ClusterRoleBinding" {
		resource = "clusterrolebindings"
	}
	gr := rbacv1.Resource(resource)
	refResource, refNS := "clusterroles", ""
	if ref.Kind == "Role" {
		refResource, refNS = "roles", om.Namespace
	}
	if s.authorizeAttrs(ctx, authorizer.AttributesRecord{User: u, Verb: "bind", Namespace: om.Namespace, APIGroup: rbacv1.GroupName,
		APIVersion: "v1", Resource: refResource, Name: ref.Name, ResourceRequest: true}).allowed {
		return nil
	}
	rules, err := s.roleRefRules(ctx, ref, refNS)
	if err != nil {
		return apierrors.NewForbidden(gr, om.Name, err)
	}
	return s.confirmNoEscalation(ctx, u, gr, om.Name, om.Namespace, rules)
}

// confirmNoEscalation: u's rules in ns must cover rules (upstream's message).
func (s *Server) confirmNoEscalation(ctx context.Context, u user.Info, gr schema.GroupResource, name, ns string, rules []rbacv1.PolicyRule) error {
	own, errs := s.rulesFor(ctx, u, ns)
	covered, missing := rbacvalidation.Covers(own, rules)
	if covered {
		return nil
	}
	descs := make([]string, 0, len(missing))
	for _, r := range missing {
		descs = append(descs, compactRule(r))
	}
	sort.Strings(descs)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.GetName(), u.GetGroups(), strings.Join(descs, "\n"))
	if len(errs) > 0 {
		msg += fmt.Sprintf("; resolution errors: %v", errs)
	}
	return apierrors.NewForbidden(gr, name, fmt.Errorf("%s", msg))
}

// compactRule formats a rule as upstream's CompactString:
// {APIGroups:[""], Resources:["pods"], Verbs:["get"]}.
func compactRule(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) == 0 {
			return
		}
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = fmt.Sprintf("%q", s)
		}
		parts = append(parts, name+":["+strings.Join(q, " ")+"]")
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("ResourceNames", r.ResourceNames)
	add("NonResourceURLs", r.NonResourceURLs)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}

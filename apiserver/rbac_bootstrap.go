package apiserver

// rbac_bootstrap.go: the ClusterRoles and ClusterRoleBindings upstream's
// bootstrap policy creates, for the resources wasmpod serves, made by New
// when missing (existing ones, perhaps edited by an admin, are kept):
//
//   - cluster-admin (everything), bound to the group system:masters;
//   - admin, edit and view, aggregated ClusterRoles (aggregationRule on
//     rbac.authorization.k8s.io/aggregate-to-{admin,edit,view}) whose rules
//     are filled in, and the system:aggregate-to-* roles they aggregate;
//   - system:discovery, system:basic-user and system:public-info-viewer,
//     bound to system:authenticated (and the last to system:unauthenticated),
//     so that any user's kubectl can discover the API, review its own
//     access and read health and version;
//   - wasmpod:module-uploader, bound to system:authenticated: upload
//     modules by digest and read tags (modules.go); wasmpod:module-tagger
//     (move tags) is bound to no one.
//
// They are made in New (not by a controller) because the authorizer needs
// them before the first request is served, as the system namespaces.

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

var (
	readVerbs      = []string{"get", "list", "watch"}
	writeVerbs     = []string{"create", "delete", "deletecollection", "patch", "update"}
	readWriteVerbs = append(append([]string{}, readVerbs...), writeVerbs...)
)

func rule(verbs []string, group string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{group}, Resources: resources}
}

func urlRule(verbs []string, urls ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: urls}
}

const (
	aggregateLabel = "rbac.authorization.k8s.io/aggregate-to-"
	bootstrapLabel = "kubernetes.io/bootstrapping"
	autoupdateAnno = "rbac.authorization.kubernetes.io/autoupdate"
)

func bootstrapMeta(name string, labels map[string]string) metav1.ObjectMeta {
	l := map[string]string{bootstrapLabel: "rbac-defaults"}
	for k, v := range labels {
		l[k] = v
	}
	return metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{autoupdateAnno: "true"}}
}

func aggregateTo(role string) map[string]string {
	return map[string]string{aggregateLabel + role: "true"}
}

// Upstream's system:aggregate-to-{view,edit,admin} rules, for the served
// resources.
var (
	viewRules = []rbacv1.PolicyRule{
		rule(readVerbs, "", "configmaps", "endpoints", "pods", "pods/status", "pods/log", "serviceaccounts", "services", "services/status",
			"events", "limitranges", "namespaces", "namespaces/status", "bindings"),
		rule(readVerbs, "discovery.k8s.io", "endpointslices"),
		rule(readVerbs, "apps", "controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
			"replicasets", "replicasets/scale", "replicasets/status"),
		rule(readVerbs, "batch", "cronjobs", "cronjobs/status", "jobs", "jobs/status"),
		rule(readVerbs, "policy", "poddisruptionbudgets", "poddisruptionbudgets/status"),
		rule(readVerbs, "autoscaling", "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
	}
	editRules = []rbacv1.PolicyRule{
		rule(readVerbs, "", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"),
		rule([]string{"impersonate"}, "", "serviceaccounts"),
		rule(writeVerbs, "", "pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
		rule([]string{"create"}, "", "pods/eviction"),
		rule(writeVerbs, "", "configmaps", "events", "secrets", "serviceaccounts", "services", "services/proxy"),
		rule(writeVerbs, "apps", "daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale"),
		rule(writeVerbs, "batch", "cronjobs", "jobs"),
		rule(writeVerbs, "policy", "poddisruptionbudgets"),
		rule(writeVerbs, "autoscaling", "horizontalpodautoscalers"),
	}
	adminRules = []rbacv1.PolicyRule{
		rule(readWriteVerbs, rbacv1.GroupName, "rolebindings", "roles"),
	}
)

func bootstrapClusterRoles() []*rbacv1.ClusterRole {
	agg := func(name string, rules []rbacv1.PolicyRule, labels map[string]string) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{
			ObjectMeta: bootstrapMeta(name, labels),
			AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
				{MatchLabels: aggregateTo(name)}}},
			Rules: rules,
		}
	}
	all := func(parts ...[]rbacv1.PolicyRule) []rbacv1.PolicyRule {
		var out []rbacv1.PolicyRule
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	return []*rbacv1.ClusterRole{
		{ObjectMeta: bootstrapMeta("cluster-admin", nil), Rules: []rbacv1.PolicyRule{
			rule([]string{"*"}, "*", "*"), urlRule([]string{"*"}, "*")}},
		agg("admin", all(viewRules, editRules, adminRules), nil),
		agg("edit", all(viewRules, editRules), aggregateTo("admin")),
		agg("view", viewRules, aggregateTo("edit")),
		{ObjectMeta: bootstrapMeta("system:aggregate-to-admin", aggregateTo("admin")), Rules: adminRules},
		{ObjectMeta: bootstrapMeta("system:aggregate-to-edit", aggregateTo("edit")), Rules: editRules},
		{ObjectMeta: bootstrapMeta("system:aggregate-to-view", aggregateTo("view")), Rules: viewRules},
		{ObjectMeta: bootstrapMeta("system:discovery", nil), Rules: []rbacv1.PolicyRule{
			urlRule([]string{"get"}, "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/")}},
		// Upstream's system:monitoring (bound to the group of that name)
		// reads /metrics (metrics.go) and the health checks' details.
		{ObjectMeta: bootstrapMeta("system:monitoring", nil), Rules: []rbacv1.PolicyRule{
			urlRule([]string{"get"}, "/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*")}},
		// What metrics-server's system:aggregated-metrics-reader adds to
		// view, edit and admin: the resource metrics API (metrics_api.go).
		{ObjectMeta: bootstrapMeta("system:aggregated-metrics-reader", aggregateTo("view")), Rules: []rbacv1.PolicyRule{
			rule([]string{"get", "list", "watch"}, "metrics.k8s.io", "pods", "nodes")}},
		{ObjectMeta: bootstrapMeta("system:basic-user", nil), Rules: []rbacv1.PolicyRule{
			rule([]string{"create"}, "authorization.k8s.io", "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule([]string{"create"}, "authentication.k8s.io", "selfsubjectreviews")}},
		{ObjectMeta: bootstrapMeta("system:public-info-viewer", nil), Rules: []rbacv1.PolicyRule{
			urlRule([]string{"get"}, "/healthz", "/livez", "/readyz", "/version", "/version/")}},
		// wasmpod's module store (modules.go): content-addressed uploads are
		// safe to share; moving a tag changes what others' pods run, so
		// wasmpod:module-tagger is bound to no one by default.
		{ObjectMeta: bootstrapMeta("wasmpod:module-uploader", nil), Rules: []rbacv1.PolicyRule{
			urlRule([]string{"get", "head", "put"}, ModulesPath+"*"),
			urlRule([]string{"get", "head"}, TagsPath+"*")}},
		{ObjectMeta: bootstrapMeta("wasmpod:module-tagger", nil), Rules: []rbacv1.PolicyRule{
			urlRule([]string{"get", "head", "put"}, TagsPath+"*")}},
	}
}

func bootstrapClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	bind := func(name string, groups ...string) *rbacv1.ClusterRoleBinding {
		b := &rbacv1.ClusterRoleBinding{ObjectMeta: bootstrapMeta(name, nil),
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}
		for _, g := range groups {
			b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
		}
		return b
	}
	return []*rbacv1.ClusterRoleBinding{
		bind("cluster-admin", user.SystemPrivilegedGroup),
		bind("system:discovery", user.AllAuthenticated),
		bind("system:basic-user", user.AllAuthenticated),
		bind("system:public-info-viewer", user.AllAuthenticated, user.AllUnauthenticated),
		bind("wasmpod:module-uploader", user.AllAuthenticated),
		bind("system:monitoring", "system:monitoring"),
	}
}

// bootstrapRBAC creates the bootstrap roles and bindings that are missing.
func (s *Server) bootstrapRBAC(ctx context.Context) error {
	for _, cr := range bootstrapClusterRoles() {
		if _, err := s.Create(ctx, s.rbacResource("clusterroles"), "", cr); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	for _, b := range bootstrapClusterRoleBindings() {
		if _, err := s.Create(ctx, s.rbacResource("clusterrolebindings"), "", b); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

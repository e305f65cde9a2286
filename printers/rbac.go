package printers

// rbac.go: RoleBindings and ClusterRoleBindings as upstream's printers
// (NAME ROLE AGE, and USERS GROUPS SERVICEACCOUNTS with -o wide). Roles and
// ClusterRoles have no upstream printer: they get the default table (NAME
// CREATED AT).

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func init() {
	gv := rbacv1.SchemeGroupVersion
	columns := func(what string) []metav1.TableColumnDefinition {
		return []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Role", Type: "string", Description: rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]},
			ageColumn,
			{Name: "Users", Type: "string", Priority: 1, Description: "Users in the " + what},
			{Name: "Groups", Type: "string", Priority: 1, Description: "Groups in the " + what},
			{Name: "ServiceAccounts", Type: "string", Priority: 1, Description: "ServiceAccounts in the " + what},
		}
	}
	register(gv.WithKind("RoleBinding"), &rbacv1.RoleBindingList{}, columns("roleBinding"), func(b *rbacv1.RoleBinding, o *options) []any {
		return bindingRow(b.ObjectMeta, b.RoleRef, b.Subjects, o)
	})
	register(gv.WithKind("ClusterRoleBinding"), &rbacv1.ClusterRoleBindingList{}, columns("clusterRoleBinding"), func(b *rbacv1.ClusterRoleBinding, o *options) []any {
		return bindingRow(b.ObjectMeta, b.RoleRef, b.Subjects, o)
	})
}

func bindingRow(om metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, o *options) []any {
	users, groups, sas := []string{}, []string{}, []string{}
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			sas = append(sas, fmt.Sprintf("%s/%s", s.Namespace, s.Name))
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		}
	}
	return []any{om.Name, ref.Kind + "/" + ref.Name, translateTimestampSince(om.CreationTimestamp, o.now),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

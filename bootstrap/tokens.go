package bootstrap

// tokens.go: listing and deleting bootstrap tokens (kubeadm token list,
// kubeadm token delete).

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecretutil "k8s.io/cluster-bootstrap/util/secrets"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// TokenInfo describes a bootstrap token without its secret.
type TokenInfo struct {
	ID          string
	Expires     time.Time // zero: never
	Expired     bool
	Usages      []string // "authentication", "signing"
	Groups      []string
	Description string
}

// ListTokens lists the bootstrap tokens' Secrets in kube-system, by ID.
func ListTokens(ctx context.Context, admin *rest.Config, now time.Time) ([]TokenInfo, error) {
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	list, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []TokenInfo
	for i := range list.Items {
		s := &list.Items[i]
		id := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenIDKey)
		if s.Type != bootstrapapi.SecretTypeBootstrapToken || s.Name != bootstraputil.BootstrapTokenSecretName(id) {
			continue
		}
		ti := TokenInfo{ID: id, Expired: bootstrapsecretutil.HasExpired(s, now), Description: bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenDescriptionKey)}
		if e := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenExpirationKey); e != "" {
			ti.Expires, _ = time.Parse(time.RFC3339, e)
		}
		for _, u := range bootstrapapi.KnownTokenUsages {
			if bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenUsagePrefix+u) == "true" {
				ti.Usages = append(ti.Usages, u)
			}
		}
		ti.Groups, _ = bootstrapsecretutil.GetGroups(s)
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteToken deletes a bootstrap token, given as its ID or as the whole
// token, and removes its signature from cluster-info: it no longer
// authenticates nor lets an agent trust the CA.
func DeleteToken(ctx context.Context, admin *rest.Config, token string, now time.Time) error {
	id, _, _ := strings.Cut(token, ".")
	if !bootstraputil.IsValidBootstrapTokenID(id) {
		return fmt.Errorf("token %q: not a bootstrap token ID ([a-z0-9]{6}) or token", token)
	}
	caPEM, err := caOf(admin)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	err = cs.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("token %q: no such bootstrap token", id)
	}
	if err != nil {
		return err
	}
	return signClusterInfo(ctx, cs, admin.Host, caPEM, now)
}

package wasmpod_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestRESTConfigClientGo: an embedder outside this module builds
// client-go's own clientset from RESTConfig (Client's type is internal)
// and reads and writes through it what Client sees.
func TestRESTConfigClientGo(t *testing.T) {
	ctx := context.Background()
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("client-go: %v", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "via-client-go"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("client-go create: %v", err)
	}
	got, err := c.Client().CoreV1().ConfigMaps("default").Get(ctx, "via-client-go", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("Client() sees %v, %v", got, err)
	}
	// Each call is a copy: changing one does not change the cluster's.
	c.RESTConfig().WrapTransport = func(http.RoundTripper) http.RoundTripper { return refuse{} }
	if _, err := kubernetes.NewForConfigOrDie(c.RESTConfig()).CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("after changing a copy: %v", err)
	}
}

type refuse struct{}

func (refuse) RoundTrip(*http.Request) (*http.Response, error) { return nil, errors.New("refused") }

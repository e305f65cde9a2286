package wasmpod_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestStorageSizeMetric (issue 16 §1, storage size): with the bbolt
// store the control plane's registry has upstream's
// apiserver_storage_size_bytes{storage_cluster_id="bbolt"}, the size of
// the database file at the scrape, and it follows the file as objects are
// written.
func TestStorageSizeMetric(t *testing.T) {
	dir := t.TempDir()
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: testwasm.CacheDir(), Store: wasmpod.StoreBbolt, DataDir: dir,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	size := func() (metric float64, file int64) {
		t.Helper()
		fams, err := c.MetricsRegistry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		metric = -1
		for _, f := range fams {
			if f.GetName() == "apiserver_storage_size_bytes" && len(f.Metric) == 1 && len(f.Metric[0].Label) == 1 &&
				f.Metric[0].Label[0].GetName() == "storage_cluster_id" && f.Metric[0].Label[0].GetValue() == "bbolt" {
				metric = f.Metric[0].GetGauge().GetValue()
			}
		}
		fi, err := os.Stat(wasmpod.StorePath(dir))
		if err != nil {
			t.Fatal(err)
		}
		return metric, fi.Size()
	}
	m0, f0 := size()
	if m0 <= 0 || m0 != float64(f0) {
		t.Fatalf("apiserver_storage_size_bytes %v, the file %d bytes", m0, f0)
	}
	// Objects until the file grows.
	cms := c.Client().CoreV1().ConfigMaps("default")
	big := string(make([]byte, 256<<10))
	for i := 0; ; i++ {
		if _, err := cms.Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)},
			Data: map[string]string{"k": big}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if m, f := size(); f > f0 {
			if m != float64(f) {
				t.Fatalf("apiserver_storage_size_bytes %v, the file %d bytes", m, f)
			}
			return
		}
		if i == 100 {
			t.Fatalf("the database file stayed at %d bytes after 100 ConfigMaps of 256 KB", f0)
		}
	}
}

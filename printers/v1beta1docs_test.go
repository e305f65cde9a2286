package printers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestV1beta1ColumnDocs: the column descriptions upstream's printers take
// from the v1beta1 types' SwaggerDoc are exactly those texts, though the
// printers no longer import the v1beta1 packages (v1beta1docs.go).
func TestV1beta1ColumnDocs(t *testing.T) {
	ext := extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()
	rsSpec, rsStatus := extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc(), extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()
	dsSpec, dsStatus := extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc(), extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()
	cjSpec, cjStatus := batchv1beta1.CronJobSpec{}.SwaggerDoc(), batchv1beta1.CronJobStatus{}.SwaggerDoc()
	es := discoveryv1beta1.EndpointSlice{}.SwaggerDoc()
	for _, tc := range []struct {
		obj  runtime.Object
		want map[string]string // column name → upstream's description
	}{
		{&appsv1.Deployment{}, map[string]string{"Up-to-date": ext["updatedReplicas"], "Available": ext["availableReplicas"],
			"Selector": extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]}},
		{&appsv1.ReplicaSet{}, map[string]string{"Desired": rsSpec["replicas"], "Current": rsStatus["replicas"],
			"Ready": rsStatus["readyReplicas"], "Selector": rsSpec["selector"]}},
		{&appsv1.DaemonSet{}, map[string]string{"Desired": dsStatus["desiredNumberScheduled"], "Current": dsStatus["currentNumberScheduled"],
			"Ready": dsStatus["numberReady"], "Up-to-date": dsStatus["updatedNumberScheduled"],
			"Available": dsStatus["numberAvailable"], "Selector": dsSpec["selector"]}},
		{&batchv1.CronJob{}, map[string]string{"Schedule": cjSpec["schedule"], "Timezone": cjSpec["timeZone"],
			"Suspend": cjSpec["suspend"], "Active": cjStatus["active"], "Last Schedule": cjStatus["lastScheduleTime"]}},
		{&discoveryv1.EndpointSlice{}, map[string]string{"AddressType": es["addressType"], "Ports": es["ports"], "Endpoints": es["endpoints"]}},
	} {
		tbl, err := ToTable(tc.obj, WithNow(now), WithWide(true))
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, c := range tbl.ColumnDefinitions {
			want, ok := tc.want[c.Name]
			if !ok {
				continue
			}
			seen++
			if want == "" {
				t.Errorf("%T %s: upstream's v1beta1 SwaggerDoc has no text (test table wrong)", tc.obj, c.Name)
			}
			if c.Description != want {
				t.Errorf("%T column %s description\n got: %q\nwant: %q", tc.obj, c.Name, c.Description, want)
			}
		}
		if seen != len(tc.want) {
			t.Errorf("%T: %d of the %d columns found in %v", tc.obj, seen, len(tc.want), tbl.ColumnDefinitions)
		}
	}
}

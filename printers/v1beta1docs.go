package printers

// Upstream's printers describe some apps and discovery columns with the
// texts of the old v1beta1 types (extensions/v1beta1's Deployment,
// ReplicaSet and DaemonSet, discovery/v1beta1's EndpointSlice), through
// their SwaggerDoc maps. Where those texts equal the served v1 types'
// (apps/v1, batch/v1, discovery/v1), the v1 SwaggerDoc gives them; the
// ones below differ from v1's and are kept here instead, because importing
// the three v1beta1 packages for them put 1.1 MB in the release binary
// (issue 14). TestV1beta1ColumnDocs checks every column description
// against the v1beta1 SwaggerDoc upstream reads, so they cannot drift
// from k8s.io/api.
const (
	v1beta1DeploymentSelectorDoc       = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."
	v1beta1ReplicaSetSelectorDoc       = "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
	v1beta1DaemonSetNumberReadyDoc     = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."
	v1beta1DaemonSetSelectorDoc        = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
	v1beta1EndpointSliceAddressTypeDoc = "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name."
	v1beta1EndpointSlicePortsDoc       = "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports."
)

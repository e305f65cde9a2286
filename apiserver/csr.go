package apiserver

// csr.go: certificates.k8s.io/v1 CertificateSigningRequests, with the
// /status and /approval subresources, and the controller that approves and
// signs them with the cluster CA (kube-controller-manager's csrapproving
// and csrsigning), issue 15.
//
// The API is upstream's: create sets spec.username, uid, groups and extra
// from the requester; spec is immutable; the Approved and Denied
// conditions change only through PUT /approval, by a user who may update
// certificatesigningrequests/approval and "approve" the signer
// (certificates.k8s.io signers, the signer's name or its "domain/*"), as
// upstream's CertificateApproval admission; status.certificate is set
// through /status, once.
//
// The controller (RunCSRController, in the replica that leads the
// controller manager) signs approved requests for
// kubernetes.io/kube-apiserver-client, kubernetes.io/kube-apiserver-client-kubelet
// and kubernetes.io/kubelet-serving with the cluster CA, for at most a year
// (kube-controller-manager's --cluster-signing-duration:
// Options.ClusterSigningDuration, serve's clusterSigningDuration) or the request's
// expirationSeconds, backdated 5 minutes; a request its signer's rules
// refuse gets the Failed condition. It approves on its own, as upstream's
// csrapproving controller:
//   - kube-apiserver-client-kubelet requests for a node client
//     certificate (CN system:node:NAME, O system:nodes, no SANs, usages
//     client auth with digital signature or key encipherment): a node's for
//     its own name if it may create certificatesigningrequests/selfnodeclient,
//     anyone else's if it may create certificatesigningrequests/nodeclient
//     (nodes and bootstrap tokens may, node_authz.go);
//   - kubelet-serving requests (our choice: upstream leaves them to the
//     admin or a policy such as kubelet-csr-approver) whose subject is
//     CN system:node:NAME, O system:nodes, whose usages are server auth with
//     digital signature or key encipherment, whose DNS names are NAME or the
//     Node's Hostname addresses and whose IPs are among the Node's
//     addresses, made by node NAME itself or by a user who may approve the
//     signer (an admin-credentialed agent): a node gets a serving certificate
//     only for the names the API already knows it by. The addresses are the
//     node's own claim, so the API server's in-cluster names, Service DNS
//     names, other Nodes' names and Service-range IPs are never approved
//     this way (servingNamesClaimed); an IP shared with another node or the
//     API server (all of them on one host) is.
// Anything else waits for `kubectl certificate approve|deny`.
//
// RunCSRCleaner is kube-controller-manager's csrcleaner: every hour it
// deletes issued requests approved more than an hour ago, denied and
// failed ones an hour after the condition, pending ones a day after their
// creation, and any whose certificate has expired, so that rotating
// agents do not pile requests up.

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/utils/clock"
)

// CSRSigningDuration is the longest certificate the controller signs.
const CSRSigningDuration = 365 * 24 * time.Hour

var csrKind = certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest").GroupKind()

func csrResource() *Resource {
	r := &Resource{GVR: certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), Kind: "CertificateSigningRequest",
		ShortNames: []string{"csr"}, Status: true, approval: true,
		newObj:  func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} },
		newList: func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} }}
	r.prepareCreate = func(_ *Server, obj runtime.Object) error {
		obj.(*certificatesv1.CertificateSigningRequest).Status = certificatesv1.CertificateSigningRequestStatus{}
		return nil
	}
	r.validate = func(_ *Server, obj runtime.Object) error {
		csr := obj.(*certificatesv1.CertificateSigningRequest)
		if errs := validateCSRSpec(&csr.Spec); len(errs) > 0 {
			return apierrors.NewInvalid(csrKind, csr.Name, errs)
		}
		return nil
	}
	r.validateUpdate = func(_ *Server, obj, old runtime.Object) error {
		// Upstream's strategy keeps the spec of an update.
		obj.(*certificatesv1.CertificateSigningRequest).Spec = old.(*certificatesv1.CertificateSigningRequest).Spec
		return nil
	}
	r.admit = func(ctx context.Context, _ *Server, obj, old runtime.Object) error {
		if old != nil {
			return nil
		}
		// Who asked: upstream's PrepareForCreate, from the request's user.
		csr, u := obj.(*certificatesv1.CertificateSigningRequest), UserFrom(ctx)
		csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups = u.GetName(), u.GetUID(), slices.Clone(u.GetGroups())
		csr.Spec.Extra = nil
		for k, v := range u.GetExtra() {
			if csr.Spec.Extra == nil {
				csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
			}
			csr.Spec.Extra[k] = slices.Clone(v)
		}
		return nil
	}
	r.prepareStatus = prepareCSRStatus
	return r
}

// validateCSRSpec is upstream's ValidateCertificateSigningRequest for a
// new request: a PEM CSR with a valid signature, a qualified signer name,
// known usages, expirationSeconds of at least 10 minutes.
func validateCSRSpec(spec *certificatesv1.CertificateSigningRequestSpec) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec")
	if _, err := parseCSR(spec.Request); err != nil {
		errs = append(errs, field.Invalid(p.Child("request"), "", err.Error()))
	}
	if spec.SignerName == "" {
		errs = append(errs, field.Required(p.Child("signerName"), ""))
	} else if domain, path, ok := strings.Cut(spec.SignerName, "/"); !ok || path == "" || len(validation.IsDNS1123Subdomain(domain)) > 0 {
		errs = append(errs, field.Invalid(p.Child("signerName"), spec.SignerName, "must be a fully qualified domain and path of the form 'example.com/signer-name'"))
	}
	if len(spec.Usages) == 0 {
		errs = append(errs, field.Required(p.Child("usages"), ""))
	}
	for i, u := range spec.Usages {
		if _, ok := keyUsages[u]; !ok {
			if _, ok := extKeyUsages[u]; !ok {
				errs = append(errs, field.NotSupported[string](p.Child("usages").Index(i), u, nil))
			}
		}
	}
	if spec.ExpirationSeconds != nil && *spec.ExpirationSeconds < 600 {
		errs = append(errs, field.Invalid(p.Child("expirationSeconds"), *spec.ExpirationSeconds, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	return errs
}

var keyUsages = map[certificatesv1.KeyUsage]x509.KeyUsage{
	certificatesv1.UsageSigning:           x509.KeyUsageDigitalSignature,
	certificatesv1.UsageDigitalSignature:  x509.KeyUsageDigitalSignature,
	certificatesv1.UsageContentCommitment: x509.KeyUsageContentCommitment,
	certificatesv1.UsageKeyEncipherment:   x509.KeyUsageKeyEncipherment,
	certificatesv1.UsageKeyAgreement:      x509.KeyUsageKeyAgreement,
	certificatesv1.UsageDataEncipherment:  x509.KeyUsageDataEncipherment,
	certificatesv1.UsageCertSign:          x509.KeyUsageCertSign,
	certificatesv1.UsageCRLSign:           x509.KeyUsageCRLSign,
	certificatesv1.UsageEncipherOnly:      x509.KeyUsageEncipherOnly,
	certificatesv1.UsageDecipherOnly:      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[certificatesv1.KeyUsage]x509.ExtKeyUsage{
	certificatesv1.UsageAny:             x509.ExtKeyUsageAny,
	certificatesv1.UsageServerAuth:      x509.ExtKeyUsageServerAuth,
	certificatesv1.UsageClientAuth:      x509.ExtKeyUsageClientAuth,
	certificatesv1.UsageCodeSigning:     x509.ExtKeyUsageCodeSigning,
	certificatesv1.UsageEmailProtection: x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageSMIME:           x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageIPsecEndSystem:  x509.ExtKeyUsageIPSECEndSystem,
	certificatesv1.UsageIPsecTunnel:     x509.ExtKeyUsageIPSECTunnel,
	certificatesv1.UsageIPsecUser:       x509.ExtKeyUsageIPSECUser,
	certificatesv1.UsageTimestamping:    x509.ExtKeyUsageTimeStamping,
	certificatesv1.UsageOCSPSigning:     x509.ExtKeyUsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC:    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	certificatesv1.UsageNetscapeSGC:     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// parseCSR is the PEM CERTIFICATE REQUEST of b, its signature checked.
func parseCSR(b []byte) (*x509.CertificateRequest, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("PEM block type must be CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, err
	}
	return csr, nil
}

// isApprovalCondition: Approved or Denied, which only /approval changes.
func isApprovalCondition(t certificatesv1.RequestConditionType) bool {
	return t == certificatesv1.CertificateApproved || t == certificatesv1.CertificateDenied
}

// prepareCSRStatus is upstream's status and approval strategies: through
// /approval only the Approved and Denied conditions change (one of them,
// never withdrawn); through /status everything else does, and the
// certificate once set stays.
func prepareCSRStatus(sub string, obj, old runtime.Object) error {
	csr, was := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
	var errs field.ErrorList
	conds := field.NewPath("status", "conditions")
	if sub == "approval" {
		var keep []certificatesv1.CertificateSigningRequestCondition
		approved, denied := false, false
		for _, c := range csr.Status.Conditions {
			if !isApprovalCondition(c.Type) {
				continue
			}
			if c.Status == "" {
				c.Status = corev1.ConditionTrue
			}
			if c.Status != corev1.ConditionTrue {
				errs = append(errs, field.NotSupported(conds.Child("status"), c.Status, []string{string(corev1.ConditionTrue)}))
			}
			approved = approved || c.Type == certificatesv1.CertificateApproved
			denied = denied || c.Type == certificatesv1.CertificateDenied
			if c.LastUpdateTime.IsZero() {
				c.LastUpdateTime = metav1.Now()
			}
			if c.LastTransitionTime.IsZero() {
				c.LastTransitionTime = c.LastUpdateTime
			}
			keep = append(keep, c)
		}
		if approved && denied {
			errs = append(errs, field.Invalid(conds, "", "Approved and Denied conditions are mutually exclusive"))
		}
		for _, c := range was.Status.Conditions {
			if isApprovalCondition(c.Type) && !slices.ContainsFunc(keep, func(k certificatesv1.CertificateSigningRequestCondition) bool { return k.Type == c.Type }) {
				errs = append(errs, field.Forbidden(conds, fmt.Sprintf("updates may not remove a condition of type %q", c.Type)))
			}
		}
		st := *was.Status.DeepCopy()
		st.Conditions = slices.DeleteFunc(st.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool { return isApprovalCondition(c.Type) })
		st.Conditions = append(st.Conditions, keep...)
		csr.Status = st
	} else {
		st := csr.Status.DeepCopy()
		st.Conditions = slices.DeleteFunc(st.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool { return isApprovalCondition(c.Type) })
		for _, c := range was.Status.Conditions {
			if isApprovalCondition(c.Type) {
				st.Conditions = append(st.Conditions, c)
			}
		}
		if len(was.Status.Certificate) > 0 && !apiequality.Semantic.DeepEqual(was.Status.Certificate, st.Certificate) {
			errs = append(errs, field.Invalid(field.NewPath("status", "certificate"), "", "updates may not modify existing certificate content"))
		}
		if len(st.Certificate) > 0 {
			if blk, _ := pem.Decode(st.Certificate); blk == nil || blk.Type != "CERTIFICATE" {
				errs = append(errs, field.Invalid(field.NewPath("status", "certificate"), "", "must contain PEM-encoded CERTIFICATE blocks"))
			}
		}
		csr.Status = *st
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(csrKind, csr.Name, errs)
	}
	return nil
}

// serveCSRApproval answers PUT certificatesigningrequests/NAME/approval:
// the caller, already allowed to update the subresource, must also be
// allowed to approve the request's signer.
func (h *httpHandler) serveCSRApproval(w http.ResponseWriter, req *http.Request, rq *request) {
	if req.Method != http.MethodPut && req.Method != http.MethodGet {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	if req.Method == http.MethodPut {
		obj, err := h.s.Get(req.Context(), rq.r, "", rq.name)
		if err != nil {
			writeError(w, err)
			return
		}
		if err := h.s.authorizeSigner(req.Context(), "approve", obj.(*certificatesv1.CertificateSigningRequest).Spec.SignerName); err != nil {
			writeError(w, err)
			return
		}
	}
	h.serveItem(w, req, rq)
}

// authorizeSigner: the request's user may verb the signer (by its name or
// its "domain/*"), upstream's CertificateApproval admission check.
func (s *Server) authorizeSigner(ctx context.Context, verb, signer string) error {
	u := UserFrom(ctx)
	if isMaster(u) {
		return nil
	}
	domain, _, _ := strings.Cut(signer, "/")
	for _, name := range []string{signer, domain + "/*"} {
		a := authorizer.AttributesRecord{User: u, Verb: verb, ResourceRequest: true, APIGroup: certificatesv1.GroupName, APIVersion: "*",
			Resource: "signers", Name: name}
		if s.authorizeAttrs(ctx, a).allowed {
			return nil
		}
	}
	return apierrors.NewForbidden(certificatesv1.Resource("certificatesigningrequests"), "",
		fmt.Errorf("user not permitted to %s requests with signerName %q", verb, signer))
}

// RunCSRController approves and signs CertificateSigningRequests (see the
// top of this file) until ctx ends, at clk's time.
func (s *Server) RunCSRController(ctx context.Context, clk clock.PassiveClock) {
	r, _ := s.Resource(certificatesv1.GroupName, "certificatesigningrequests")
	for ctx.Err() == nil {
		// Every request at the start and after a broken watch; then each
		// change; pending ones again every 10 s (a node's addresses may
		// arrive after its serving request).
		list, err := s.List(ctx, r, "", metav1.ListOptions{})
		var w watch.Interface
		if err == nil {
			for i := range list.(*certificatesv1.CertificateSigningRequestList).Items {
				s.syncCSR(ctx, r, &list.(*certificatesv1.CertificateSigningRequestList).Items[i], clk)
			}
			w, err = s.Watch(ctx, r, "", metav1.ListOptions{ResourceVersion: list.(*certificatesv1.CertificateSigningRequestList).ResourceVersion})
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		tick := time.NewTicker(10 * time.Second)
	events:
		for {
			select {
			case <-ctx.Done():
				break events
			case <-tick.C:
				break events // relist
			case ev, ok := <-w.ResultChan():
				if !ok {
					break events
				}
				if csr, ok := ev.Object.(*certificatesv1.CertificateSigningRequest); ok && ev.Type != watch.Deleted {
					s.syncCSR(ctx, r, csr, clk)
				}
			}
		}
		tick.Stop()
		w.Stop()
	}
}

// The csrcleaner's periods (pkg/controller/certificates/cleaner).
const (
	csrCleanInterval      = time.Hour
	csrApprovedExpiration = time.Hour
	csrDeniedExpiration   = time.Hour
	csrPendingExpiration  = 24 * time.Hour
)

// RunCSRCleaner deletes finished and stale CertificateSigningRequests (see
// the top of this file) at once and then every hour of clk, until ctx
// ends.
func (s *Server) RunCSRCleaner(ctx context.Context, clk clock.WithTicker) {
	r, _ := s.Resource(certificatesv1.GroupName, "certificatesigningrequests")
	tick := clk.NewTicker(csrCleanInterval)
	defer tick.Stop()
	for {
		if list, err := s.List(ctx, r, "", metav1.ListOptions{}); err == nil {
			for i := range list.(*certificatesv1.CertificateSigningRequestList).Items {
				csr := &list.(*certificatesv1.CertificateSigningRequestList).Items[i]
				if csrStale(csr, clk.Now()) {
					s.Delete(ctx, r, "", csr.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &csr.UID}})
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

// csrStale: the cleaner deletes csr at now.
func csrStale(csr *certificatesv1.CertificateSigningRequest, now time.Time) bool {
	older := func(t metav1.Time, d time.Duration) bool { return !t.IsZero() && now.Sub(t.Time) > d }
	issued := len(csr.Status.Certificate) > 0
	if len(csr.Status.Conditions) == 0 && older(csr.CreationTimestamp, csrPendingExpiration) {
		return true
	}
	for _, c := range csr.Status.Conditions {
		switch {
		case c.Type == certificatesv1.CertificateApproved && issued && older(c.LastUpdateTime, csrApprovedExpiration),
			c.Type == certificatesv1.CertificateDenied && older(c.LastUpdateTime, csrDeniedExpiration),
			c.Type == certificatesv1.CertificateFailed && older(c.LastUpdateTime, csrDeniedExpiration):
			return true
		}
	}
	if issued && csrCondition(csr, certificatesv1.CertificateApproved) {
		if blk, _ := pem.Decode(csr.Status.Certificate); blk != nil {
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil && now.After(c.NotAfter) {
				return true
			}
		}
	}
	return false
}

func csrCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	return slices.ContainsFunc(csr.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool {
		return c.Type == t && c.Status == corev1.ConditionTrue
	})
}

// syncCSR approves csr if its rules say so, then signs it if approved.
func (s *Server) syncCSR(ctx context.Context, r *Resource, csr *certificatesv1.CertificateSigningRequest, clk clock.PassiveClock) {
	if len(csr.Status.Certificate) > 0 || csrCondition(csr, certificatesv1.CertificateDenied) || csrCondition(csr, certificatesv1.CertificateFailed) {
		return
	}
	req, err := parseCSR(csr.Spec.Request)
	if err != nil {
		return
	}
	if !csrCondition(csr, certificatesv1.CertificateApproved) {
		msg := s.autoApproval(ctx, csr, req)
		if msg == "" {
			return
		}
		c := csr.DeepCopy()
		now := metav1.NewTime(clk.Now())
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved", Message: msg,
			LastUpdateTime: now, LastTransitionTime: now})
		out, err := s.Update(ctx, r, "", c, "approval")
		if err != nil {
			return
		}
		csr = out.(*certificatesv1.CertificateSigningRequest)
	}
	c := csr.DeepCopy()
	certPEM, why := s.signCSR(csr, req, clk.Now())
	switch {
	case certPEM != nil:
		c.Status.Certificate = certPEM
	case why != "":
		now := metav1.NewTime(clk.Now())
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure", Message: why,
			LastUpdateTime: now, LastTransitionTime: now})
	default:
		return // not our signer, or no CA
	}
	s.Update(ctx, r, "", c, "status")
}

// signingDuration is the longest certificate the signer issues.
func (s *Server) signingDuration() time.Duration {
	if d := s.opts.ClusterSigningDuration; d > 0 {
		return d
	}
	return CSRSigningDuration
}

// usagesWithin: every usage is in allowed and must is among them.
func usagesWithin(usages []certificatesv1.KeyUsage, must certificatesv1.KeyUsage, allowed ...certificatesv1.KeyUsage) bool {
	return slices.Contains(usages, must) && !slices.ContainsFunc(usages, func(u certificatesv1.KeyUsage) bool { return !slices.Contains(allowed, u) })
}

// nodeSubject is the node of a subject CN system:node:NAME, O
// system:nodes ("" if it is not one).
func nodeSubject(req *x509.CertificateRequest) string {
	name, ok := strings.CutPrefix(req.Subject.CommonName, NodeUserPrefix)
	if !ok || !slices.Equal(req.Subject.Organization, []string{GroupNodes}) {
		return ""
	}
	return name
}

// kubeletClientInvalid is upstream's kube-apiserver-client-kubelet rules
// ("" when the request keeps them).
func kubeletClientInvalid(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) string {
	switch {
	case nodeSubject(req) == "":
		return fmt.Sprintf("subject must be CN=%s<node name>, O=%s", NodeUserPrefix, GroupNodes)
	case len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0:
		return "a kubelet client certificate has no subject alternative names"
	case !usagesWithin(csr.Spec.Usages, certificatesv1.UsageClientAuth, certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth):
		return "usages must be client auth, with digital signature or key encipherment"
	}
	return ""
}

// kubeletServingInvalid is upstream's kubelet-serving rules.
func kubeletServingInvalid(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) string {
	switch {
	case nodeSubject(req) == "":
		return fmt.Sprintf("subject must be CN=%s<node name>, O=%s", NodeUserPrefix, GroupNodes)
	case len(req.EmailAddresses)+len(req.URIs) > 0:
		return "a kubelet serving certificate has no email or URI names"
	case len(req.DNSNames)+len(req.IPAddresses) == 0:
		return "a kubelet serving certificate names at least one DNS name or IP address"
	case !usagesWithin(csr.Spec.Usages, certificatesv1.UsageServerAuth, certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth):
		return "usages must be server auth, with digital signature or key encipherment"
	}
	return ""
}

// autoApproval is the approval message of a request the controller
// approves on its own, "" for one it leaves to the admin.
func (s *Server) autoApproval(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) string {
	requester := WithUser(ctx, csrRequester(csr))
	may := func(sub string) bool {
		return s.authorizeAttrs(requester, authorizer.AttributesRecord{User: csrRequester(csr), Verb: "create", ResourceRequest: true,
			APIGroup: certificatesv1.GroupName, APIVersion: "*", Resource: "certificatesigningrequests", Subresource: sub}).allowed
	}
	switch csr.Spec.SignerName {
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		if kubeletClientInvalid(csr, req) != "" {
			return ""
		}
		if csr.Spec.Username == req.Subject.CommonName && may("selfnodeclient") {
			return "Auto approving self kubelet client certificate after SubjectAccessReview."
		}
		if may("nodeclient") {
			return "Auto approving kubelet client certificate after SubjectAccessReview."
		}
	case certificatesv1.KubeletServingSignerName:
		node := nodeSubject(req)
		if kubeletServingInvalid(csr, req) != "" || node == "" {
			return ""
		}
		if csr.Spec.Username != req.Subject.CommonName && s.authorizeSigner(requester, "approve", csr.Spec.SignerName) != nil {
			return ""
		}
		obj, err := s.Get(ctx, s.resources["/nodes"], "", node)
		if err != nil {
			return ""
		}
		n := obj.(*corev1.Node)
		dns, ips := []string{node}, []net.IP{}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeHostName {
				dns = append(dns, a.Address)
			}
			if ip := net.ParseIP(a.Address); ip != nil {
				ips = append(ips, ip)
			}
		}
		for _, d := range req.DNSNames {
			if !slices.Contains(dns, d) {
				return ""
			}
		}
		for _, ip := range req.IPAddresses {
			if !slices.ContainsFunc(ips, ip.Equal) {
				return ""
			}
		}
		if s.servingNamesClaimed(ctx, node, req) {
			return ""
		}
		return "Auto approving kubelet serving certificate: its names are Node " + node + "'s own."
	}
	return ""
}

// servingNamesClaimed: req names what is not node's to claim, whatever
// its Node's status.addresses say (a node writes those itself, so they are
// self-asserted): the API server's in-cluster names (kubernetes,
// kubernetes.default[.svc[.DOMAIN]]), a Service's DNS name (NAME.NS.svc...),
// another Node's name, or an address of the Service range (the kubernetes
// Service's IP among them). A node could otherwise buy a cluster-CA
// server certificate that in-cluster clients accept for the API server or
// another node. Such a request waits for the admin.
func (s *Server) servingNamesClaimed(ctx context.Context, node string, req *x509.CertificateRequest) bool {
	for _, ip := range req.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok && ServiceCIDR.Contains(a.Unmap()) {
			return true
		}
	}
	for _, d := range req.DNSNames {
		l := strings.ToLower(strings.TrimSuffix(d, "."))
		if l == "kubernetes" || l == "kubernetes.default" || strings.HasPrefix(l, "kubernetes.default.") ||
			strings.HasSuffix(l, ".svc") || strings.Contains(l, ".svc.") {
			return true
		}
		if l == strings.ToLower(node) {
			continue
		}
		if _, err := s.Get(ctx, s.resources["/nodes"], "", l); !apierrors.IsNotFound(err) {
			return true // another Node's name (or the lookup failed: leave it to the admin)
		}
	}
	return false
}

// csrRequester is the user who created csr.
func csrRequester(csr *certificatesv1.CertificateSigningRequest) user.Info {
	u := &user.DefaultInfo{Name: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups}
	for k, v := range csr.Spec.Extra {
		if u.Extra == nil {
			u.Extra = map[string][]string{}
		}
		u.Extra[k] = v
	}
	return u
}

// signCSR signs an approved request of one of the signers the cluster CA
// serves; why is the reason a request of such a signer is refused. Both
// are empty for another signer's request or without a CA key.
func (s *Server) signCSR(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest, now time.Time) (certPEM []byte, why string) {
	switch csr.Spec.SignerName {
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		why = kubeletClientInvalid(csr, req)
	case certificatesv1.KubeletServingSignerName:
		why = kubeletServingInvalid(csr, req)
	case certificatesv1.KubeAPIServerClientSignerName:
		if !slices.Contains(csr.Spec.Usages, certificatesv1.UsageClientAuth) || slices.ContainsFunc(csr.Spec.Usages, func(u certificatesv1.KeyUsage) bool {
			return u != certificatesv1.UsageClientAuth && u != certificatesv1.UsageDigitalSignature && u != certificatesv1.UsageKeyEncipherment
		}) {
			why = "usages must be client auth, with digital signature or key encipherment"
		}
	default:
		return nil, ""
	}
	if why != "" {
		return nil, why
	}
	s.ca.mu.RLock()
	caCert, caKey := s.ca.cert, s.ca.key
	s.ca.mu.RUnlock()
	if caCert == nil {
		return nil, ""
	}
	life := s.signingDuration()
	if e := csr.Spec.ExpirationSeconds; e != nil && time.Duration(*e)*time.Second < life {
		life = time.Duration(*e) * time.Second
	}
	notAfter := now.Add(life)
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, ""
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: req.Subject.CommonName, Organization: req.Subject.Organization, OrganizationalUnit: req.Subject.OrganizationalUnit},
		NotBefore:      now.Add(-5 * time.Minute).UTC(), // upstream's backdate
		NotAfter:       notAfter.UTC(),
		DNSNames:       req.DNSNames,
		IPAddresses:    req.IPAddresses,
		EmailAddresses: req.EmailAddresses,
		URIs:           req.URIs,
	}
	for _, u := range csr.Spec.Usages {
		if k, ok := keyUsages[u]; ok {
			tmpl.KeyUsage |= k
		}
		if k, ok := extKeyUsages[u]; ok {
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, k)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, req.PublicKey, caKey)
	if err != nil {
		return nil, "signing: " + err.Error()
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ""
}

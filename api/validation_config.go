package api

// validation_config.go validates the configuration sources a pod consumes
// (issue 12 section 3): configMap, secret, downwardAPI and projected
// volumes, envFrom, configMapKeyRef/secretKeyRef and subPathExpr, with
// upstream's checks and messages (pkg/apis/core/validation).

import (
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// downwardVolumeFieldPaths are the fieldRef paths a downwardAPI volume
// item may use (besides the subscripted labels and annotations).
var downwardVolumeFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"}

// volumeMode is upstream's validateVolumeMode (0 to 0777).
func (v *podValidator) volumeMode(mode *int32, p *field.Path) {
	if mode != nil && (*mode > 0o777 || *mode < 0) {
		v.add(field.Invalid(p, *mode, "must be a number between 0 and 0777 (octal), both inclusive"))
	}
}

// localPath is upstream's validateLocalNonReservedPath: a relative path
// without ".." elements that does not start with "..".
func (v *podValidator) localPath(s string, p *field.Path) {
	switch {
	case s == "":
		v.add(field.Required(p, ""))
		return
	case path.IsAbs(s):
		v.add(field.Invalid(p, s, "must be a relative path"))
	case hasBackstep(s):
		v.add(field.Invalid(p, s, "must not contain '..'"))
	case strings.HasPrefix(s, ".."):
		v.add(field.Invalid(p, s, "must not start with '..'"))
	}
	v.noNUL(p, s)
}

func (v *podValidator) keyToPaths(items []corev1.KeyToPath, p *field.Path) {
	for i, kp := range items {
		ip := p.Index(i)
		if kp.Key == "" {
			v.add(field.Required(ip.Child("key"), ""))
		}
		v.localPath(kp.Path, ip.Child("path"))
		v.volumeMode(kp.Mode, ip.Child("mode"))
	}
}

func (v *podValidator) configMapVolume(s *corev1.ConfigMapVolumeSource, p *field.Path) {
	if s.Name == "" {
		v.add(field.Required(p.Child("name"), ""))
	}
	v.volumeMode(s.DefaultMode, p.Child("defaultMode"))
	v.keyToPaths(s.Items, p.Child("items"))
}

func (v *podValidator) secretVolume(s *corev1.SecretVolumeSource, p *field.Path) {
	if s.SecretName == "" {
		v.add(field.Required(p.Child("secretName"), ""))
	}
	v.volumeMode(s.DefaultMode, p.Child("defaultMode"))
	v.keyToPaths(s.Items, p.Child("items"))
}

func (v *podValidator) downwardAPIItems(items []corev1.DownwardAPIVolumeFile, p *field.Path) {
	for i, f := range items {
		ip := p.Index(i)
		v.localPath(f.Path, ip.Child("path"))
		v.volumeMode(f.Mode, ip.Child("mode"))
		switch {
		case f.FieldRef != nil && f.ResourceFieldRef != nil:
			v.add(field.Invalid(ip, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case f.FieldRef != nil:
			fp := ip.Child("fieldRef")
			if f.FieldRef.APIVersion == "" {
				v.add(field.Required(fp.Child("apiVersion"), ""))
				continue
			}
			if m := subscriptRE.FindStringSubmatch(f.FieldRef.FieldPath); m != nil {
				v.fieldRef(f.FieldRef, fp)
				continue
			}
			if f.FieldRef.APIVersion != "v1" {
				v.add(field.NotSupported(fp.Child("apiVersion"), f.FieldRef.APIVersion, []string{"v1"}))
			} else if !slices.Contains(downwardVolumeFieldPaths, f.FieldRef.FieldPath) {
				v.add(field.NotSupported(fp.Child("fieldPath"), f.FieldRef.FieldPath, downwardVolumeFieldPaths))
			}
		case f.ResourceFieldRef != nil:
			if f.ResourceFieldRef.ContainerName == "" {
				v.add(field.Required(ip.Child("resourceFieldRef", "containerName"), ""))
				continue
			}
			v.resourceFieldRef(f.ResourceFieldRef, ip.Child("resourceFieldRef"))
		default:
			v.add(field.Required(ip, "one of fieldRef and resourceFieldRef is required"))
		}
	}
}

func (v *podValidator) downwardAPIVolume(s *corev1.DownwardAPIVolumeSource, p *field.Path) {
	v.volumeMode(s.DefaultMode, p.Child("defaultMode"))
	v.downwardAPIItems(s.Items, p.Child("items"))
}

func (v *podValidator) projectedVolume(s *corev1.ProjectedVolumeSource, p *field.Path) {
	v.volumeMode(s.DefaultMode, p.Child("defaultMode"))
	paths := sets.New[string]()
	dup := func(ps string, fp *field.Path) {
		if paths.Has(ps) {
			v.add(field.Invalid(fp, ps, "conflicting duplicate paths"))
		}
		paths.Insert(ps)
	}
	for i, src := range s.Sources {
		sp := p.Child("sources").Index(i)
		n := 0
		if src.ConfigMap != nil {
			n++
			cp := sp.Child("configMap")
			if src.ConfigMap.Name == "" {
				v.add(field.Required(cp.Child("name"), ""))
			}
			v.keyToPaths(src.ConfigMap.Items, cp.Child("items"))
			for j, it := range src.ConfigMap.Items {
				dup(it.Path, cp.Child("items").Index(j).Child("path"))
			}
		}
		if src.Secret != nil {
			n++
			cp := sp.Child("secret")
			if src.Secret.Name == "" {
				v.add(field.Required(cp.Child("name"), ""))
			}
			v.keyToPaths(src.Secret.Items, cp.Child("items"))
			for j, it := range src.Secret.Items {
				dup(it.Path, cp.Child("items").Index(j).Child("path"))
			}
		}
		if src.DownwardAPI != nil {
			n++
			dp := sp.Child("downwardAPI")
			v.downwardAPIItems(src.DownwardAPI.Items, dp.Child("items"))
			for j, it := range src.DownwardAPI.Items {
				dup(it.Path, dp.Child("items").Index(j).Child("path"))
			}
		}
		if t := src.ServiceAccountToken; t != nil {
			// upstream's validateProjectionSources, field paths included
			n++
			tp := sp.Child("serviceAccountToken")
			// (nil is the default, 3600, when the pod was not defaulted)
			if es := t.ExpirationSeconds; es != nil && *es < 10*60 {
				v.add(field.Invalid(tp.Child("expirationSeconds"), *es, "may not specify a duration less than 10 minutes"))
			} else if es != nil && *es > 1<<32 {
				v.add(field.Invalid(tp.Child("expirationSeconds"), *es, "may not specify a duration larger than 2^32 seconds"))
			}
			if t.Path == "" {
				v.add(field.Required(p.Child("path"), ""))
			} else {
				v.localPath(t.Path, p.Child("path"))
				dup(t.Path, tp.Child("path"))
			}
		}
		if src.ClusterTrustBundle != nil {
			n++
			v.add(field.Forbidden(sp.Child("clusterTrustBundle"), notSupported+"ClusterTrustBundles are not served"))
		}
		if src.PodCertificate != nil {
			n++
			v.add(field.Forbidden(sp.Child("podCertificate"), notSupported+"pod certificates are not issued"))
		}
		if n > 1 {
			v.add(field.Forbidden(sp, "may not specify more than 1 volume type per source"))
		}
	}
}

// configVolume validates a configMap, secret, downwardAPI or projected
// volume source; it reports whether s is one (n counts the types set).
func (v *podValidator) configVolume(s *corev1.VolumeSource, p *field.Path, n *int) {
	one := func(name string, set bool, check func(*field.Path)) {
		if !set {
			return
		}
		*n++
		if *n > 1 {
			v.add(field.Forbidden(p.Child(name), "may not specify more than 1 volume type"))
			return
		}
		check(p.Child(name))
	}
	one("configMap", s.ConfigMap != nil, func(fp *field.Path) { v.configMapVolume(s.ConfigMap, fp) })
	one("secret", s.Secret != nil, func(fp *field.Path) { v.secretVolume(s.Secret, fp) })
	one("downwardAPI", s.DownwardAPI != nil, func(fp *field.Path) { v.downwardAPIVolume(s.DownwardAPI, fp) })
	one("projected", s.Projected != nil, func(fp *field.Path) { v.projectedVolume(s.Projected, fp) })
}

// envFrom is upstream's validateEnvFrom.
func (v *podValidator) envFrom(list []corev1.EnvFromSource, p *field.Path) {
	for i, ef := range list {
		ip := p.Index(i)
		if ef.Prefix != "" {
			for _, msg := range validation.IsEnvVarName(ef.Prefix) {
				v.add(field.Invalid(ip.Child("prefix"), ef.Prefix, msg))
			}
		}
		n := 0
		if ef.ConfigMapRef != nil {
			n++
			if ef.ConfigMapRef.Name == "" {
				v.add(field.Required(ip.Child("configMapRef", "name"), ""))
			}
		}
		if ef.SecretRef != nil {
			n++
			if ef.SecretRef.Name == "" {
				v.add(field.Required(ip.Child("secretRef", "name"), ""))
			}
		}
		switch {
		case n == 0:
			v.add(field.Invalid(ip, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			v.add(field.Invalid(ip, "", "may not have more than one field specified at a time"))
		}
	}
}

// keyRef checks a configMapKeyRef or secretKeyRef.
func (v *podValidator) keyRef(name, key string, p *field.Path) {
	if name == "" {
		v.add(field.Required(p.Child("name"), ""))
	}
	if key == "" {
		v.add(field.Required(p.Child("key"), ""))
		return
	}
	for _, msg := range validation.IsConfigMapKey(key) {
		v.add(field.Invalid(p.Child("key"), key, msg))
	}
}

// subPathExpr is upstream's check of volumeMounts[].subPathExpr: not with
// subPath (named with the mount's index ip), and a relative path without
// ".." (named, as upstream does, with volumeMounts' own path p).
func (v *podValidator) subPathExpr(m *corev1.VolumeMount, p, ip *field.Path) {
	if m.SubPathExpr == "" {
		return
	}
	if m.SubPath != "" {
		v.add(field.Invalid(ip.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
	}
	if path.IsAbs(m.SubPathExpr) {
		v.add(field.Invalid(p.Child("subPathExpr"), m.SubPathExpr, "must be a relative path"))
	}
	if hasBackstep(m.SubPathExpr) {
		v.add(field.Invalid(p.Child("subPathExpr"), m.SubPathExpr, "must not contain '..'"))
	}
	v.noNUL(ip.Child("subPathExpr"), m.SubPathExpr)
}

// hostAliases is upstream's ValidateHostAliases: an IP address and DNS
// subdomain host names.
func (v *podValidator) hostAliases(list []corev1.HostAlias, p *field.Path) {
	for i, ha := range list {
		ip := p.Index(i)
		for _, e := range validation.IsValidIP(ip.Child("ip"), ha.IP) {
			v.add(e)
		}
		for j, h := range ha.Hostnames {
			for _, msg := range validation.IsDNS1123Subdomain(h) {
				v.add(field.Invalid(ip.Child("hostnames").Index(j), h, msg))
			}
		}
	}
}

package apiserver

// configdata.go validates ConfigMaps and Secrets as upstream's
// ValidateConfigMap/ValidateConfigMapUpdate and ValidateSecret/
// ValidateSecretUpdate (pkg/apis/core/validation): every key of data and
// binaryData a valid config key (no "/", not "." or "..", not starting
// with ".."; the node writes keys as file names), at most 1 MiB of data,
// the keys a Secret's type requires, and nothing of an immutable one's
// data changing. A malformed docker config is reported without its
// contents.

import (
	"encoding/json"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxConfigDataBytes is upstream's MaxSecretSize, the bound of a
// ConfigMap's or Secret's data.
const maxConfigDataBytes = 1 << 20

const immutableMsg = "field is immutable when `immutable` is set"

func configMapErrors(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	total := 0
	for k, v := range cm.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, msg))
		}
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, "duplicate of key present in binaryData"))
		}
		total += len(v)
	}
	for k, v := range cm.BinaryData {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, msg))
		}
		if _, dup := cm.Data[k]; dup {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, "duplicate of key present in data"))
		}
		total += len(v)
	}
	if total > maxConfigDataBytes {
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxConfigDataBytes))
	}
	return errs
}

func validateConfigMap(_ *Server, obj runtime.Object) error {
	cm := obj.(*corev1.ConfigMap)
	if errs := configMapErrors(cm); len(errs) > 0 {
		return invalid("ConfigMap", cm.Name, errs)
	}
	return nil
}

func validateConfigMapUpdate(_ *Server, obj, old runtime.Object) error {
	cm, was := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
	var errs field.ErrorList
	if was.Immutable != nil && *was.Immutable {
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableMsg))
		}
		if !reflect.DeepEqual(cm.Data, was.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableMsg))
		}
		if !reflect.DeepEqual(cm.BinaryData, was.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableMsg))
		}
	}
	if errs = append(errs, configMapErrors(cm)...); len(errs) > 0 {
		return invalid("ConfigMap", cm.Name, errs)
	}
	return nil
}

// secretErrors is upstream's ValidateSecret on a Secret whose stringData
// was merged into data (prepareSecretCreate).
func secretErrors(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	data := field.NewPath("data")
	total := 0
	for k, v := range s.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(data.Key(k), k, msg))
		}
		total += len(v)
	}
	if total > maxConfigDataBytes {
		errs = append(errs, field.TooLong(data, "", maxConfigDataBytes))
	}
	jsonKey := func(key string) {
		b, ok := s.Data[key]
		if !ok {
			errs = append(errs, field.Required(data.Key(key), ""))
			return
		}
		if err := json.Unmarshal(b, &map[string]any{}); err != nil {
			errs = append(errs, field.Invalid(data.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		jsonKey(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		jsonKey(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			errs = append(errs, field.Required(data.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(data.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(data.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
			if _, ok := s.Data[k]; !ok {
				errs = append(errs, field.Required(data.Key(k), ""))
			}
		}
	}
	return errs
}

func validateSecret(_ *Server, obj runtime.Object) error {
	s := obj.(*corev1.Secret)
	if errs := secretErrors(s); len(errs) > 0 {
		return invalid("Secret", s.Name, errs)
	}
	return nil
}

// secretUpdateErrors adds to secretErrors an immutable Secret's rules.
func secretUpdateErrors(s, was *corev1.Secret) error {
	var errs field.ErrorList
	if was.Immutable != nil && *was.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableMsg))
		}
		if !reflect.DeepEqual(s.Data, was.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableMsg))
		}
	}
	if errs = append(errs, secretErrors(s)...); len(errs) > 0 {
		return invalid("Secret", s.Name, errs)
	}
	return nil
}

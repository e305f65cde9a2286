package cli

// images_config.go: the serve config's OCI image settings (ServeConfig's
// insecureRegistries, imageCredentialsFile, maxImageLayerSize and the image
// GC thresholds), checked when the file is loaded.

import (
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wasmpod/wasmpod/images"
)

func (c *ServeConfig) parseImages() error {
	reg := &images.RegistryConfig{}
	any := false
	for i, h := range c.InsecureRegistries {
		if h == "" || len(h) > 255 {
			return fmt.Errorf("insecureRegistries[%d]: invalid registry %q: want host or host:port", i, h)
		}
		reg.Insecure = append(reg.Insecure, h)
		any = true
	}
	if c.MaxImageLayerSize != "" {
		q, err := resource.ParseQuantity(c.MaxImageLayerSize)
		if err != nil || q.Sign() <= 0 {
			return fmt.Errorf("maxImageLayerSize: invalid size %q: want a positive quantity such as 256Mi", c.MaxImageLayerSize)
		}
		reg.MaxLayerSize, any = q.Value(), true
	}
	if c.ImageCredentialsFile != "" {
		b, err := os.ReadFile(c.ImageCredentialsFile)
		if err != nil {
			return fmt.Errorf("imageCredentialsFile: %v", err)
		}
		kc, err := images.DockerConfigKeychain(b)
		if err != nil {
			return fmt.Errorf("imageCredentialsFile: %s: %v", c.ImageCredentialsFile, err)
		}
		reg.Keychain, any = kc, true
	}
	if any {
		c.registry = reg
	}
	if c.ImageGCHighThresholdPercent != nil || c.ImageGCLowThresholdPercent != nil || c.ImageStoreSize != "" {
		p := images.GCPolicy{HighThresholdPercent: images.DefaultImageGCHighThresholdPercent, LowThresholdPercent: images.DefaultImageGCLowThresholdPercent}
		if c.ImageGCHighThresholdPercent != nil {
			p.HighThresholdPercent = *c.ImageGCHighThresholdPercent
		}
		if c.ImageGCLowThresholdPercent != nil {
			p.LowThresholdPercent = *c.ImageGCLowThresholdPercent
		}
		if c.ImageStoreSize != "" {
			q, err := resource.ParseQuantity(c.ImageStoreSize)
			if err != nil || q.Sign() <= 0 {
				return fmt.Errorf("imageStoreSize: invalid size %q: want a positive quantity such as 10Gi", c.ImageStoreSize)
			}
			p.Capacity = q.Value()
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("image GC: %v", err)
		}
		c.imageGC = &p
	}
	return nil
}

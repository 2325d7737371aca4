// Package shim exposes the upstream Terraform random provider to the bridge.
package shim

import (
	frameworkprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream Terraform plugin-framework provider.
func NewProvider() frameworkprovider.Provider {
	return upstream.New()
}

// Package shim exposes the upstream Terraform tls provider to the bridge.
package shim

import (
	frameworkprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns the upstream Terraform plugin-framework provider.
func NewProvider() frameworkprovider.Provider {
	return upstream.New()
}

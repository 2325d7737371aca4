// Wrapper module for building pulumi-resource-tls, a Terraform-bridged provider.
// scripts/toolchain.sh adds the requirement on github.com/pulumi/pulumi-tls/provider/v5
// at the pseudo-version of the commit tagged with the npm SDK's version, repeats
// the provider module's non-local replace directives, and puts schema-embed.json
// (the module's schema.json with "version" added) next to main.go.
module k8s-ha/toolchain/tls

go 1.26

// The provider module replaces its shim with a local folder; ./shim is ours,
// with the same module path, so it may import the upstream provider's
// internal/provider package.
replace github.com/hashicorp/terraform-provider-tls/shim => ./shim

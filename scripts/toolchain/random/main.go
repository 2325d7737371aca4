// Command pulumi-resource-random serves the Terraform-bridged random provider.
//
// The upstream main embeds a file generated at release time that the module
// zip lacks; this one embeds the schema that scripts/toolchain.sh prepares.
package main

import (
	"context"
	_ "embed"

	randomprovider "github.com/pulumi/pulumi-random/provider/v4"
	tfbridgepf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
)

//go:embed schema-embed.json
var packageSchema []byte

func main() {
	metadata := tfbridgepf.ProviderMetadata{PackageSchema: packageSchema}
	tfbridgepf.Main(context.Background(), "random", randomprovider.Provider(), metadata)
}

// Command pulumi-resource-tls serves the Terraform-bridged tls provider.
//
// The upstream main embeds a file generated at release time that the module
// zip lacks; this one embeds the schema that scripts/toolchain.sh prepares.
package main

import (
	"context"
	_ "embed"

	tfbridgepf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	tlsprovider "github.com/pulumi/pulumi-tls/provider/v5"
)

//go:embed schema-embed.json
var packageSchema []byte

func main() {
	metadata := tfbridgepf.ProviderMetadata{PackageSchema: packageSchema}
	tfbridgepf.Main(context.Background(), "tls", tlsprovider.Provider(), metadata)
}

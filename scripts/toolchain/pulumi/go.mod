// Wrapper module for building the Pulumi CLI from the Go module proxy.
// pkg/v3 replaces sdk/v3 with a local folder and atotto/clipboard with a fork;
// replaces of a dependency are ignored, so the fork is repeated here and sdk/v3
// is required at the same version as pkg/v3. scripts/toolchain.sh copies this
// file to a temporary folder and sets both versions before building.
module k8s-ha/toolchain/pulumi

go 1.26

tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

require (
	github.com/pulumi/pulumi/pkg/v3 v3.274.1
	github.com/pulumi/pulumi/sdk/v3 v3.274.1
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e

// Wrapper module for building pulumi-language-nodejs. The language host module
// has no tags of its own: scripts/toolchain.sh requires it at the pseudo-version
// of the commit that the CLI's release tag points at, and pkg/v3 and sdk/v3 at
// the CLI's version (the host's own go.mod replaces both with local folders).
module k8s-ha/toolchain/language-nodejs

go 1.26

tool github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3

require (
	github.com/pulumi/pulumi/pkg/v3 v3.274.1
	github.com/pulumi/pulumi/sdk/v3 v3.274.1
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e

// Wrapper module for building pulumi-resource-command. The provider module has
// no tags of its own; scripts/toolchain.sh adds the requirement at the
// pseudo-version of the commit tagged with the npm SDK's version.
module k8s-ha/toolchain/command

go 1.26

tool github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command

// Stand-in for the shim module that pulumi-random keeps outside its module zip.
// Its path lies under the upstream provider's, which lets it reach that
// provider's internal package. Requirements come from the wrapper module.
module github.com/terraform-providers/terraform-provider-random/shim

go 1.26

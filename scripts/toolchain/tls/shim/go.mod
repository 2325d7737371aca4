// Stand-in for the shim module that pulumi-tls keeps outside its module zip.
// Its path lies under the upstream provider's, which lets it reach that
// provider's internal package. Requirements come from the wrapper module.
module github.com/hashicorp/terraform-provider-tls/shim

go 1.26

// The provider's own cmd package embeds two generated, git-ignored files that its module zip lacks, so
// this main serves the provider package instead, embedding the committed schema and Terraform mapping
// that build.sh copies out of the module cache at build time.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}

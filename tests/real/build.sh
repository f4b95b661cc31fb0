#!/usr/bin/env bash
# Builds the real peers of the end-to-end suite from the Go module proxy, each pinned by version in its
# wrapper module beside this script, and caches each binary outside the clone:
#
#   $PCI_REAL_CACHE/<name>-<version>/<binary>     (default ~/.cache/pulumi-cloud-import/real)
#
# A binary already in the cache is not rebuilt, so a warm run builds nothing. Go's own module and
# build caches (GOMODCACHE, GOCACHE) stay where Go keeps them by default, outside the clone too.
#
#   tests/real/build.sh            build every peer that is missing
#   tests/real/build.sh --print    print the binaries' directories (for PATH), build nothing
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${PCI_REAL_CACHE:-$HOME/.cache/pulumi-cloud-import/real}"

# The pins. Each must agree with the wrapper's go.mod (checked below before anything is built).
PULUMI_VERSION=v3.276.0
# provider/v4 has no module tags of its own: this pseudo-version is the commit of tag v4.25.0.
K8S_PROVIDER_VERSION=4.25.0
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.6.16

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

dir_of() { echo "$cache/$1-$2"; }

if [[ "${1:-}" == "--print" ]]; then
  dir_of pulumi "$PULUMI_VERSION"
  dir_of pulumi-resource-kubernetes "$K8S_PROVIDER_VERSION"
  dir_of kube "$KUBE_VERSION"
  dir_of etcd "$ETCD_VERSION"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is not on PATH (Go 1.26 is needed)" >&2; exit 1; }

require_pin() { # wrapper module version
  if ! grep -qE "[[:space:]]$2 $3( // indirect)?\$" "$here/$1/go.mod"; then
    echo "build.sh: $1/go.mod does not pin $2 $3; update the pin in build.sh and the go.mod together" >&2
    exit 1
  fi
}
require_pin pulumi-cli github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
require_pin pulumi-resource-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4 "$K8S_PROVIDER_MODULE_VERSION"
require_pin kube k8s.io/kubernetes "$KUBE_VERSION"
require_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"

# build <name> <version> <wrapper dir> <binary> <go build args...>: builds into a temporary name and
# renames, so an interrupted build never leaves a binary that looks complete.
build() {
  local name=$1 version=$2 wrapper=$3 binary=$4
  shift 4
  local out
  out="$(dir_of "$name" "$version")"
  if [[ -x "$out/$binary" ]]; then
    echo "== $name $version: cached ($out/$binary)"
    return
  fi
  mkdir -p "$out"
  echo "== $name $version: building $binary (cold builds take minutes)"
  local start=$SECONDS
  (cd "$here/$wrapper" && go build -trimpath -o "$out/.$binary.tmp" "$@")
  mv "$out/.$binary.tmp" "$out/$binary"
  echo "== $name $version: built $binary in $((SECONDS - start)) s"
}

build pulumi "$PULUMI_VERSION" pulumi-cli pulumi \
  -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

# The provider's cmd package embeds generated files its module zip lacks; our main embeds the committed
# schema and Terraform mapping instead, copied from the module cache (git-ignored here).
provider_dir="$(dir_of pulumi-resource-kubernetes "$K8S_PROVIDER_VERSION")"
if [[ ! -x "$provider_dir/pulumi-resource-kubernetes" ]]; then
  src="$(cd "$here/pulumi-resource-kubernetes" &&
    go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  install -m 644 "$src/cmd/pulumi-resource-kubernetes/schema.json" "$here/pulumi-resource-kubernetes/schema-embed.json"
  install -m 644 "$src/cmd/pulumi-resource-kubernetes/terraform-mapping.json" \
    "$here/pulumi-resource-kubernetes/terraform-mapping-embed.json"
fi
build pulumi-resource-kubernetes "$K8S_PROVIDER_VERSION" pulumi-resource-kubernetes pulumi-resource-kubernetes \
  -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" .

# /version must report a real release: the Kubernetes provider refuses a cluster older than v1.13, and an
# unstamped build reports v0.0.0.
minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
kube_ldflags="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
-X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
build kube "$KUBE_VERSION" kube kube-apiserver -ldflags "$kube_ldflags" k8s.io/kubernetes/cmd/kube-apiserver
build kube "$KUBE_VERSION" kube kube-controller-manager -ldflags "$kube_ldflags" \
  k8s.io/kubernetes/cmd/kube-controller-manager

build etcd "$ETCD_VERSION" etcd etcd go.etcd.io/etcd/server/v3

#!/usr/bin/env bash
# Installs the Pulumi toolchain k8s-ha needs, on machines with or without internet access:
#   - Node.js 24 from the npm package node@24, under $K8S_HA_CACHE/node;
#   - a Go toolchain for the artifacts build, when the machine has none new enough: Go's own
#     release from the Go module proxy (golang.org/toolchain), checked against a pinned sha256,
#     under $K8S_HA_CACHE/go;
#   - the pulumi CLI (with its Node.js language host) and the command, tls and random resource
#     plugins, from a mirror of Pulumi's release tarballs (docs/airgap.md), checked against the
#     mirror's SHA256SUMS and installed into a PULUMI_HOME of this script's own with automatic
#     plugin download off;
# and writes .tools/env.sh, which every other script sources.
#
# The mirror is a folder or an http(s) URL laid out as Pulumi publishes its releases:
#   SHA256SUMS
#   releases/sdk/pulumi-vX.Y.Z-linux-x64.tar.gz
#   releases/plugins/pulumi-resource-NAME-vX.Y.Z-linux-amd64.tar.gz
# Without a mirror, a pulumi CLI already on PATH (installed the usual way, with internet access) is
# used as it is, and the plugins download on first use.
#
# Settings (environment):
#   K8S_HA_PULUMI_MIRROR   folder or http(s) URL of the mirror
#                          (default: ../shared/pulumi-mirror beside the checkout, when it exists)
#   K8S_HA_PULUMI_VERSION  CLI version to take from the mirror (default: the newest it has)
#   K8S_HA_CACHE           cache root (default /var/cache/k8s-ha)
#   GOPROXY                Go module proxy for the Go toolchain (default: Go's, proxy.golang.org)
#
# Nothing is installed until every file it needs has been fetched and has matched its checksum.
# A second run with the same versions fetches nothing and changes nothing.
set -Eeuo pipefail

readonly NODE_MAJOR=24
readonly PLUGINS=(command tls random)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly CACHE_ROOT=${K8S_HA_CACHE:-/var/cache/k8s-ha}
readonly TOOLCHAIN_DIR=$CACHE_ROOT/toolchain
readonly NODE_PREFIX=$CACHE_ROOT/node
readonly NODE_BIN_DIR=$NODE_PREFIX/node_modules/node/bin
readonly ENV_FILE=$REPO_ROOT/.tools/env.sh
# The Go release the artifacts build needs (the newest `go` line of scripts/artifacts/*/go.mod;
# npm test checks they agree), and the sha256 of its module zip golang.org/toolchain@v0.0.1-go<V>.
# linux-amd64, as the Go checksum database has it (go mod download verified it on 2026-12-08).
readonly GO_VERSION=1.26.8
readonly GO_TOOLCHAIN_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
readonly GO_PREFIX=$CACHE_ROOT/go/go$GO_VERSION

SCRATCH_DIRS=()

say() { printf 'toolchain: %s\n' "$*" >&2; }
die() {
  printf 'toolchain: error: %s\n' "$*" >&2
  exit 1
}

remove_scratch_dirs() {
  local dir
  for dir in "${SCRATCH_DIRS[@]}"; do
    rm -rf -- "$dir"
  done
}

# make_scratch_dir PARENT: a fresh folder in PARENT, in SCRATCH, removed on exit unless moved away
# first. (Not called as $(...): a command substitution's subshell would keep the list to itself.)
make_scratch_dir() {
  mkdir -p -- "$1"
  SCRATCH=$(mktemp -d "$1/.scratch.XXXXXX")
  SCRATCH_DIRS+=("$SCRATCH")
}

take_cache_lock() {
  mkdir -p -- "$TOOLCHAIN_DIR"
  exec {LOCK_FD}>"$TOOLCHAIN_DIR/.lock"
  if ! flock -n "$LOCK_FD"; then
    say "another toolchain run holds $TOOLCHAIN_DIR/.lock; waiting"
    flock "$LOCK_FD"
  fi
}

node_major_version() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# install_node: Node.js 24 from the npm registry (the machine's own Node may be older).
install_node() {
  local node=$NODE_BIN_DIR/node
  if [[ -x $node ]] && (($(node_major_version "$node") >= NODE_MAJOR)); then
    return 0
  fi
  command -v npm >/dev/null || die "npm is not on PATH; install Debian's npm to bootstrap Node.js $NODE_MAJOR"
  say "installing Node.js $NODE_MAJOR from the npm package node@$NODE_MAJOR into $NODE_PREFIX"
  local scratch
  make_scratch_dir "$CACHE_ROOT"
  scratch=$SCRATCH
  if ! npm install --no-audit --no-fund --prefix "$scratch" "node@$NODE_MAJOR" >"$scratch.log" 2>&1; then
    cat -- "$scratch.log" >&2
    rm -f -- "$scratch.log"
    die "npm install node@$NODE_MAJOR failed"
  fi
  rm -f -- "$scratch.log"
  [[ -x $scratch/node_modules/node/bin/node ]] || die "node@$NODE_MAJOR installed no node/bin/node"
  rm -rf -- "$NODE_PREFIX"
  mv -- "$scratch" "$NODE_PREFIX"
}

# plugin_version NAME: the plugin version the installed npm SDK @pulumi/NAME asks the engine for
# (its package.json "pulumi.version"), or the exact pin in our package.json before `npm ci`.
# go_version_of GO: its version as x.y.z (go1.26 counts as 1.26.0), or 0.0.0 when it does not run.
go_version_of() {
  local v
  v=$(GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || v=
  v=${v#go}
  [[ $v =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || v=0.0.0
  [[ $v =~ ^[0-9]+\.[0-9]+$ ]] && v=$v.0
  printf '%s\n' "$v"
}

# version_at_least A B: whether version A (x.y.z) is B or newer.
version_at_least() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]; }

# go_bin_dir: the folder of a go of GO_VERSION or newer (on PATH, in /usr/local/go, or the one
# install_go put in the cache); fails when there is none.
go_bin_dir() {
  local go
  for go in "$(command -v go 2>/dev/null)" /usr/local/go/bin/go "$GO_PREFIX/bin/go"; do
    [[ -n $go && -x $go ]] || continue
    if version_at_least "$(go_version_of "$go")" "$GO_VERSION"; then
      dirname -- "$go"
      return 0
    fi
  done
  return 1
}

# install_go: Go GO_VERSION into the cache from the Go module proxy, unless a go that new is there.
# The zip is checked against GO_TOOLCHAIN_SHA256 before anything is unpacked.
install_go() {
  local dir proxy url scratch got
  if dir=$(go_bin_dir); then
    say "go $(go_version_of "$dir/go") in $dir"
    return 0
  fi
  # The first proxy of GOPROXY that is a URL (not direct or off).
  local list=${GOPROXY:-https://proxy.golang.org}
  proxy=$(tr '|' ',' <<<"$list" | tr ',' '\n' | grep -m 1 -E '^(https?|file)://') ||
    die "GOPROXY (${GOPROXY:-}) names no proxy URL to get Go $GO_VERSION from; set GOPROXY to a Go module proxy, or install Go $GO_VERSION or newer"
  url=${proxy%/}/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-amd64.zip
  say "installing Go $GO_VERSION from $url into $GO_PREFIX"
  # The download goes on any exit (setup.sh calls this without toolchain.sh's main, which sets it too).
  trap remove_scratch_dirs EXIT
  make_scratch_dir "$CACHE_ROOT/go"
  scratch=$SCRATCH
  curl -fsSL --connect-timeout 10 --max-time 900 -o "$scratch/go.zip" "$url" ||
    die "could not download $url (no go $GO_VERSION or newer on PATH or in /usr/local/go either)"
  got=$(sha256sum "$scratch/go.zip" | cut -d' ' -f1)
  [[ $got == "$GO_TOOLCHAIN_SHA256" ]] ||
    die "checksum mismatch for $url: want $GO_TOOLCHAIN_SHA256, the file has $got; nothing was installed"
  python3 -m zipfile -e "$scratch/go.zip" "$scratch/unpacked" || die "could not unpack $url"
  # A module zip keeps no file modes: the tools are made executable as go itself does when it
  # switches toolchains.
  dir=$scratch/unpacked/golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-amd64
  [[ -f $dir/bin/go ]] || die "$url has no bin/go; nothing was installed"
  chmod -R a+rX,go-w "$dir"
  chmod a+x "$dir"/bin/* "$dir"/pkg/tool/linux_amd64/*
  [[ $(go_version_of "$dir/bin/go") == "$GO_VERSION" ]] || die "the go in $url does not run or is not $GO_VERSION; nothing was installed"
  rm -rf -- "$GO_PREFIX"
  mv -- "$dir" "$GO_PREFIX"
  rm -rf -- "$scratch"
  say "go $GO_VERSION in $GO_PREFIX/bin"
}

plugin_version() {
  local name=$1
  # shellcheck disable=SC2016 # JavaScript, not shell
  "$NODE_BIN_DIR/node" -e '
    const fs = require("fs");
    const [root, name] = process.argv.slice(1);
    const sdk = `${root}/node_modules/@pulumi/${name}/package.json`;
    if (fs.existsSync(sdk)) {
      const v = JSON.parse(fs.readFileSync(sdk, "utf8")).pulumi?.version;
      if (v) { console.log(v.replace(/^v/, "")); process.exit(0); }
    }
    const pkg = JSON.parse(fs.readFileSync(`${root}/package.json`, "utf8"));
    const spec = { ...pkg.devDependencies, ...pkg.dependencies }[`@pulumi/${name}`];
    if (!spec || !/^\d+\.\d+\.\d+$/.test(spec)) {
      console.error(`toolchain: error: package.json must pin @pulumi/${name} to an exact version (it has ${JSON.stringify(spec)})`);
      process.exit(1);
    }
    console.log(spec);
  ' "$REPO_ROOT" "$name"
}

# default_mirror: ../shared/pulumi-mirror beside the checkout, if there is one.
default_mirror() {
  local dir
  dir=$(cd "$REPO_ROOT/.." && pwd)/shared/pulumi-mirror
  [[ -f $dir/SHA256SUMS ]] && printf '%s\n' "$dir"
  return 0
}

# fetch MIRROR RELPATH DEST: copies or downloads one file of the mirror.
fetch() {
  local mirror=$1 rel=$2 dest=$3
  case $mirror in
    http://* | https://*)
      curl -fsSL --connect-timeout 10 --max-time 600 -o "$dest" "${mirror%/}/$rel" ||
        die "could not download ${mirror%/}/$rel"
      ;;
    *)
      [[ -f $mirror/$rel ]] || die "the mirror $mirror has no $rel"
      cp -- "$mirror/$rel" "$dest"
      ;;
  esac
}

# expected_sum SUMS RELPATH: the checksum SHA256SUMS gives for a file, or nothing.
expected_sum() { awk -v f="$2" '{ p = $2; sub(/^\*/, "", p); sub(/^\.\//, "", p) } p == f { print $1; exit }' "$1"; }

# fetch_verified MIRROR SUMS RELPATH DEST: fetches a file and checks it against SHA256SUMS.
fetch_verified() {
  local mirror=$1 sums=$2 rel=$3 dest=$4 want got
  want=$(expected_sum "$sums" "$rel")
  [[ -n $want ]] || die "the mirror's SHA256SUMS has no line for $rel"
  fetch "$mirror" "$rel" "$dest"
  got=$(sha256sum "$dest" | cut -d' ' -f1)
  [[ $got == "$want" ]] || die "checksum mismatch for $rel: SHA256SUMS says $want, the file has $got; nothing was installed"
}

# mirror_versions SUMS REGEX: the versions of files matching REGEX (one capture group), newest last.
mirror_versions() { sed -nE "s#^[0-9a-f]{64} [ *]?(\./)?$2\$#\\2#p" "$1" | sort -V; }

install_from_mirror() {
  local mirror=$1 scratch sums cli_version name version rel available
  say "installing the Pulumi CLI and plugins from the mirror $mirror"
  make_scratch_dir "$TOOLCHAIN_DIR"
  scratch=$SCRATCH
  sums=$scratch/SHA256SUMS
  fetch "$mirror" SHA256SUMS "$sums"

  # Decide every file first, so that a missing version stops before anything is fetched.
  available=$(mirror_versions "$sums" 'releases/sdk/pulumi-v([0-9.]+)-linux-x64\.tar\.gz')
  [[ -n $available ]] || die "the mirror $mirror has no releases/sdk/pulumi-v*-linux-x64.tar.gz in SHA256SUMS"
  cli_version=${K8S_HA_PULUMI_VERSION:-$(tail -n 1 <<<"$available")}
  cli_version=${cli_version#v}
  grep -qxF "$cli_version" <<<"$available" ||
    die "the mirror has no Pulumi CLI v$cli_version (K8S_HA_PULUMI_VERSION); it has: $(tr '\n' ' ' <<<"$available")"
  local -A want=()
  for name in "${PLUGINS[@]}"; do
    version=$(plugin_version "$name")
    available=$(mirror_versions "$sums" "releases/plugins/pulumi-resource-$name-v([0-9.]+)-linux-amd64\.tar\.gz")
    if ! grep -qxF "$version" <<<"$available"; then
      available=$(awk '{ printf "%sv%s", (NR > 1 ? " " : ""), $0 }' <<<"$available")
      die "the npm SDK @pulumi/$name asks for plugin $name v$version, but the mirror has ${available:-no $name plugin}; pin @pulumi/$name to a version the mirror has (package.json), or add v$version to the mirror"
    fi
    want[$name]=$version
  done

  CLI_DIR=$TOOLCHAIN_DIR/pulumi-v$cli_version
  PULUMI_HOME=$TOOLCHAIN_DIR/pulumi-home
  local -a todo=()
  [[ -x $CLI_DIR/pulumi/pulumi ]] || todo+=("releases/sdk/pulumi-v$cli_version-linux-x64.tar.gz")
  for name in "${PLUGINS[@]}"; do
    [[ -x $PULUMI_HOME/plugins/resource-$name-v${want[$name]}/pulumi-resource-$name ]] ||
      todo+=("releases/plugins/pulumi-resource-$name-v${want[$name]}-linux-amd64.tar.gz")
  done
  for rel in "${todo[@]}"; do
    say "fetching $rel"
    fetch_verified "$mirror" "$sums" "$rel" "$scratch/${rel##*/}"
  done

  # Every file is here and matches: install.
  if [[ ! -x $CLI_DIR/pulumi/pulumi ]]; then
    local unpack
    make_scratch_dir "$TOOLCHAIN_DIR"
    unpack=$SCRATCH
    tar -xzf "$scratch/pulumi-v$cli_version-linux-x64.tar.gz" -C "$unpack"
    [[ -x $unpack/pulumi/pulumi && -x $unpack/pulumi/pulumi-language-nodejs ]] ||
      die "pulumi-v$cli_version-linux-x64.tar.gz has no pulumi/pulumi and pulumi/pulumi-language-nodejs"
    rm -rf -- "$CLI_DIR"
    mv -- "$unpack" "$CLI_DIR"
    say "installed pulumi v$cli_version in $CLI_DIR"
  fi
  export PULUMI_HOME PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  mkdir -p -- "$PULUMI_HOME"
  for name in "${PLUGINS[@]}"; do
    rel=releases/plugins/pulumi-resource-$name-v${want[$name]}-linux-amd64.tar.gz
    [[ -f $scratch/${rel##*/} ]] || continue
    "$CLI_DIR/pulumi/pulumi" plugin install resource "$name" "${want[$name]}" --file "$scratch/${rel##*/}" >/dev/null ||
      die "pulumi plugin install resource $name ${want[$name]} failed"
    say "installed plugin $name v${want[$name]} in $PULUMI_HOME"
  done
  PULUMI_BIN_DIR=$CLI_DIR/pulumi
  AUTO_PLUGINS=false
}

use_installed_cli() {
  local cli
  cli=$(command -v pulumi) ||
    die "no Pulumi mirror (K8S_HA_PULUMI_MIRROR, or ../shared/pulumi-mirror) and no pulumi on PATH; set K8S_HA_PULUMI_MIRROR to a mirror of Pulumi's releases (docs/airgap.md), or with internet access install Pulumi the usual way and run this again"
  say "no mirror: using $cli ($("$cli" version)); plugins download on first use"
  PULUMI_BIN_DIR=$(dirname -- "$cli")
  PULUMI_HOME=${PULUMI_HOME:-$HOME/.pulumi}
  AUTO_PLUGINS=true
}

write_env_file() {
  mkdir -p -- "$(dirname -- "$ENV_FILE")"
  local tmp
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  local go_dir
  go_dir=$(go_bin_dir) || die "no go $GO_VERSION or newer; run bash scripts/setup.sh (it installs one)"
  {
    printf '# Written by scripts/toolchain.sh: Node.js %s, the pulumi CLI and its plugins, and Go.\n' "$NODE_MAJOR"
    # shellcheck disable=SC2016 # $PATH is expanded when env.sh is sourced
    printf 'export PATH="%s:%s:%s:$PATH"\n' "$NODE_BIN_DIR" "$PULUMI_BIN_DIR" "$go_dir"
    printf 'export PULUMI_HOME="%s"\n' "$PULUMI_HOME"
    printf 'export PULUMI_SKIP_UPDATE_CHECK=true\n'
    if [[ $AUTO_PLUGINS == false ]]; then
      printf 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n'
      printf 'export PULUMI_IGNORE_AMBIENT_PLUGINS=true\n'
    fi
  } >"$tmp"
  if cmp -s "$tmp" "$ENV_FILE"; then rm -f -- "$tmp"; else mv -- "$tmp" "$ENV_FILE"; fi
}

main() {
  trap remove_scratch_dirs EXIT
  take_cache_lock
  install_node
  install_go
  local mirror=${K8S_HA_PULUMI_MIRROR:-$(default_mirror)}
  if [[ -n $mirror ]]; then
    case $mirror in http://* | https://*) ;; *) mirror=$(cd "$mirror" 2>/dev/null && pwd) || die "the mirror folder ${K8S_HA_PULUMI_MIRROR:-} does not exist" ;; esac
    install_from_mirror "$mirror"
  else
    use_installed_cli
  fi
  write_env_file
  # shellcheck source=/dev/null
  source "$ENV_FILE"
  say "ready: $(pulumi version) with plugins in $PULUMI_HOME; source $ENV_FILE"
}

# Sourcing the script (scripts/setup.sh does, for install_node) defines the functions only.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi

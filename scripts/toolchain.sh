#!/usr/bin/env bash
# Installs the Pulumi toolchain k8s-ha needs, on machines with or without internet access:
#   - Node.js 24 from the npm package node@24, under $K8S_HA_CACHE/node;
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

# make_scratch_dir PARENT: a fresh folder in PARENT, removed on exit unless moved away first.
make_scratch_dir() {
  mkdir -p -- "$1"
  local dir
  dir=$(mktemp -d "$1/.scratch.XXXXXX")
  SCRATCH_DIRS+=("$dir")
  printf '%s\n' "$dir"
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
  scratch=$(make_scratch_dir "$CACHE_ROOT")
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
  scratch=$(make_scratch_dir "$TOOLCHAIN_DIR")
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
    unpack=$(make_scratch_dir "$TOOLCHAIN_DIR")
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
  {
    printf '# Written by scripts/toolchain.sh: Node.js %s, the pulumi CLI and its plugins.\n' "$NODE_MAJOR"
    # shellcheck disable=SC2016 # $PATH is expanded when env.sh is sourced
    printf 'export PATH="%s:%s:$PATH"\n' "$NODE_BIN_DIR" "$PULUMI_BIN_DIR"
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

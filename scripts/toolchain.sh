#!/usr/bin/env bash
# Makes a working Pulumi toolchain available on a machine that reaches only the
# Go module proxy, the npm registry and Debian's packages:
#   - Node.js 24 from the npm package node@24, under $K8S_HA_CACHE/node;
#   - the pulumi CLI and pulumi-language-nodejs, built from github.com/pulumi/pulumi;
#   - the command, tls and random resource providers, built at the versions of the
#     npm SDKs that package.json pins and installed as plugins into a PULUMI_HOME
#     owned by this script;
# and writes .tools/env.sh, which every other script sources.
#
# Builds are cached under $K8S_HA_CACHE/toolchain, one folder per program and
# version, each filled in a temporary folder and moved into place only once
# complete. A second run with a warm cache builds nothing.
#
# Settings (environment):
#   K8S_HA_CACHE                      cache root (default /var/cache/k8s-ha)
#   K8S_HA_PULUMI_VERSION             CLI version to build (default below)
#   K8S_HA_LANGUAGE_NODEJS_MODULE_VERSION, K8S_HA_COMMAND_MODULE_VERSION,
#   K8S_HA_TLS_MODULE_VERSION, K8S_HA_RANDOM_MODULE_VERSION
#                                     Go module versions (pseudo-versions) to use
#                                     instead of the ones derived from release tags
#   GOPROXY                           Go module proxy (default https://proxy.golang.org,
#                                     never "direct": nothing else is reachable)
set -Eeuo pipefail

readonly DEFAULT_PULUMI_VERSION=3.274.1
readonly DEFAULT_COMMAND_VERSION=1.2.1
readonly DEFAULT_TLS_VERSION=5.6.1
readonly DEFAULT_RANDOM_VERSION=4.21.2
readonly NODE_MAJOR=24

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly GLUE_DIR=$REPO_ROOT/scripts/toolchain
readonly CACHE_ROOT=${K8S_HA_CACHE:-/var/cache/k8s-ha}
readonly TOOLCHAIN_DIR=$CACHE_ROOT/toolchain
readonly NODE_PREFIX=$CACHE_ROOT/node
readonly NODE_BIN_DIR=$NODE_PREFIX/node_modules/node/bin
readonly TOOLCHAIN_PULUMI_HOME=$TOOLCHAIN_DIR/pulumi-home
readonly ENV_FILE=$REPO_ROOT/.tools/env.sh

export GOPROXY=${GOPROXY:-https://proxy.golang.org}
export CGO_ENABLED=0
export GOFLAGS=-buildvcs=false
# Never let a build reach for another Go toolchain or a VCS host.
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GONOPROXY='' GOPRIVATE='' GOWORK=off
export PULUMI_HOME=$TOOLCHAIN_PULUMI_HOME
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true

SCRATCH_DIRS=()

say() { printf 'toolchain: %s\n' "$*" >&2; }
die() { printf 'toolchain: error: %s\n' "$*" >&2; exit 1; }

remove_scratch_dirs() {
  local dir
  for dir in "${SCRATCH_DIRS[@]}"; do
    [[ -n $dir && -d $dir ]] && rm -rf -- "$dir"
  done
  return 0
}
trap remove_scratch_dirs EXIT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR

# Prints a new empty folder inside $1 (same file system, so a rename is atomic).
make_scratch_dir() {
  local parent=$1 dir
  mkdir -p -- "$parent"
  dir=$(mktemp -d "$parent/.partial.XXXXXX")
  chmod 755 -- "$dir"
  SCRATCH_DIRS+=("$dir")
  printf '%s\n' "$dir"
}

check_go_proxy_setting() {
  case ",$GOPROXY," in
    *,direct,* | *,off,*) die "GOPROXY=$GOPROXY: give only module proxies (direct would fetch from VCS hosts)" ;;
  esac
  command -v go >/dev/null || die "go is not on PATH (Go 1.26 or newer is needed to build the toolchain)"
}

# Serialises runs that share a cache.
take_cache_lock() {
  mkdir -p -- "$TOOLCHAIN_DIR"
  exec {LOCK_FD}>"$TOOLCHAIN_DIR/.lock"
  if ! flock -n "$LOCK_FD"; then
    say "another toolchain run holds $TOOLCHAIN_DIR/.lock; waiting"
    flock "$LOCK_FD"
  fi
}

node_major_version() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

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

node24() { "$NODE_BIN_DIR/node" "$@"; }

# Prints the version that package.json gives for an npm package, or $2.
pinned_npm_version() {
  local package=$1 fallback=$2
  if [[ ! -f $REPO_ROOT/package.json ]]; then
    printf '%s\n' "$fallback"
    return
  fi
  # shellcheck disable=SC2016 # JavaScript, not shell
  node24 -e '
    const [file, name, fallback] = process.argv.slice(1);
    const pkg = JSON.parse(require("fs").readFileSync(file, "utf8"));
    const spec = {...pkg.devDependencies, ...pkg.dependencies}[name];
    if (spec === undefined) { console.log(fallback); process.exit(0); }
    const m = /^[\^~=v]*(\d+\.\d+\.\d+)$/.exec(spec.trim());
    if (!m) { console.error(`toolchain: error: ${name} is "${spec}" in package.json; pin an exact version`); process.exit(1); }
    if (m[0] !== m[1]) console.error(`toolchain: ${name} "${spec}" is a range; building its base version ${m[1]}`);
    console.log(m[1]);
  ' "$REPO_ROOT/package.json" "$package" "$fallback"
}

read_pinned_versions() {
  PULUMI_VERSION=${K8S_HA_PULUMI_VERSION:-$DEFAULT_PULUMI_VERSION}
  PULUMI_VERSION=${PULUMI_VERSION#v}
  SDK_VERSION=$(pinned_npm_version @pulumi/pulumi "")
  COMMAND_VERSION=$(pinned_npm_version @pulumi/command "$DEFAULT_COMMAND_VERSION")
  TLS_VERSION=$(pinned_npm_version @pulumi/tls "$DEFAULT_TLS_VERSION")
  RANDOM_VERSION=$(pinned_npm_version @pulumi/random "$DEFAULT_RANDOM_VERSION")
  say "versions: pulumi CLI $PULUMI_VERSION${SDK_VERSION:+ (npm SDK $SDK_VERSION)}, command $COMMAND_VERSION, tls $TLS_VERSION, random $RANDOM_VERSION"
}

# Runs a go command in a folder, keeping its output; on failure stops with the
# module and version it was after and go's own words.
run_go() {
  local dir=$1 what=$2
  shift 2
  local log
  log=$(mktemp)
  if ! (cd "$dir" && go "$@") >"$log" 2>&1; then
    say "go $* failed for $what:"
    sed 's/^/  /' "$log" >&2
    rm -f -- "$log"
    die "could not build $what (see go's error above)"
  fi
  rm -f -- "$log"
}

# Prints the JSON that the proxy gives for module@version (Version, Time, Origin).
module_info_json() {
  local module=$1 version=$2 out
  if ! out=$(cd "$TOOLCHAIN_DIR" && GOFLAGS=-mod=mod go list -m -json "$module@$version" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
  printf '%s\n' "$out"
}

# Prints the pseudo-version of the commit that a release tag points at, for a
# module in that repository that has no tags of its own. Each probe is a
# tagged module of the same repository (module@version); the first whose
# information names the commit wins.
pseudo_version_from_tag() {
  local major=$1
  shift
  local probe info
  for probe in "$@"; do
    info=$(module_info_json "${probe%@*}" "${probe##*@}" 2>/dev/null) || continue
    # shellcheck disable=SC2016 # JavaScript, not shell
    node24 -e '
      const [major, text] = process.argv.slice(1);
      const info = JSON.parse(text);
      if (!info.Origin || !info.Origin.Hash || !info.Time) process.exit(1);
      const t = new Date(info.Time).toISOString().replace(/[-:T]/g, "").slice(0, 14);
      console.log(`v${major}.0.0-${t}-${info.Origin.Hash.slice(0, 12)}`);
    ' "$major" "$info" && return 0
  done
  return 1
}

# Copies a glue folder into a scratch module folder and adds module@version as
# a requirement, repeating that module's non-local replace directives (the
# replaces of a dependency are ignored by Go).
prepare_wrapper_module() {
  local glue=$1 dir=$2 what=$3
  shift 3
  cp -R -- "$GLUE_DIR/$glue/." "$dir/"
  local requirement
  for requirement in "$@"; do
    run_go "$dir" "$what" mod edit "-require=$requirement"
  done
  local gomod
  gomod=$(cd "$TOOLCHAIN_DIR" && GOFLAGS=-mod=mod go mod download -json "$1" | node24 -e '
    let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).GoMod || ""))') || true
  [[ -n $gomod ]] || die "could not read go.mod of $1"
  local replaces
  # shellcheck disable=SC2016 # JavaScript, not shell
  replaces=$(go mod edit -json "$gomod" | node24 -e '
    let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
      for (const r of JSON.parse(s).Replace || []) {
        if (!r.New.Version) continue;   // local folders mean nothing outside that repository
        const old = r.Old.Version ? `${r.Old.Path}@${r.Old.Version}` : r.Old.Path;
        console.log(`${old}=${r.New.Path}@${r.New.Version}`);
      }
    })')
  local replace
  while IFS= read -r replace; do
    [[ -n $replace ]] && run_go "$dir" "$what" mod edit "-replace=$replace"
  done <<<"$replaces"
  run_go "$dir" "$what" mod tidy
}

PREFLIGHT_ERRORS=()

# Asks the proxy for module@version (info, go.mod and zip); records go's error.
check_module_served() {
  local module=$1 version=$2 what=$3 out
  if ! out=$(cd "$TOOLCHAIN_DIR" && GOFLAGS=-mod=mod go mod download -json "$module@$version" 2>&1); then
    local error
    error=$(node24 -e '
      let s = process.argv[1]; try { s = JSON.parse(s).Error || s; } catch {} console.log(s);' "$out")
    PREFLIGHT_ERRORS+=("$module@$version ($what): $error")
    return 1
  fi
}

# Resolves the Go module version of every program that is not cached yet and
# checks that the proxy serves it, before anything is compiled. Reports every
# refused module at once.
resolve_module_versions() {
  local version=v$PULUMI_VERSION
  local host_module=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
  if [[ -z $PULUMI_BIN_DIR ]]; then
    check_module_served github.com/pulumi/pulumi/pkg/v3 "$version" "pulumi CLI" || true
    check_module_served github.com/pulumi/pulumi/sdk/v3 "$version" "pulumi CLI" || true
    HOST_MODULE_VERSION=${K8S_HA_LANGUAGE_NODEJS_MODULE_VERSION:-}
    if [[ -z $HOST_MODULE_VERSION ]] &&
      ! HOST_MODULE_VERSION=$(pseudo_version_from_tag 3 "github.com/pulumi/pulumi/pkg/v3@$version" "github.com/pulumi/pulumi/sdk/v3@$version"); then
      PREFLIGHT_ERRORS+=("$host_module (pulumi-language-nodejs for pulumi $version): the module has no tags of its own and the proxy names no commit (Origin) for github.com/pulumi/pulumi/pkg/v3@$version or sdk/v3@$version, so its pseudo-version is unknown; set K8S_HA_LANGUAGE_NODEJS_MODULE_VERSION to the pseudo-version of the commit tagged $version")
    elif [[ -n $HOST_MODULE_VERSION ]]; then
      check_module_served "$host_module" "$HOST_MODULE_VERSION" "pulumi-language-nodejs for pulumi $version" || true
    fi
  fi
  if [[ ! -x $(provider_binary_path command "$COMMAND_VERSION") ]]; then
    resolve_provider_module_version COMMAND_MODULE_VERSION command 0 github.com/pulumi/pulumi-command/provider "$COMMAND_VERSION" \
      "github.com/pulumi/pulumi-command@v$COMMAND_VERSION" "github.com/pulumi/pulumi-command/sdk@v$COMMAND_VERSION"
  fi
  if [[ ! -x $(provider_binary_path tls "$TLS_VERSION") ]]; then
    resolve_provider_module_version TLS_MODULE_VERSION tls 5 github.com/pulumi/pulumi-tls/provider/v5 "$TLS_VERSION" \
      "github.com/pulumi/pulumi-tls/sdk/v5@v$TLS_VERSION" "github.com/pulumi/pulumi-tls@v$TLS_VERSION"
  fi
  if [[ ! -x $(provider_binary_path random "$RANDOM_VERSION") ]]; then
    resolve_provider_module_version RANDOM_MODULE_VERSION random 4 github.com/pulumi/pulumi-random/provider/v4 "$RANDOM_VERSION" \
      "github.com/pulumi/pulumi-random/sdk/v4@v$RANDOM_VERSION" "github.com/pulumi/pulumi-random@v$RANDOM_VERSION"
  fi
  if ((${#PREFLIGHT_ERRORS[@]})); then
    local error
    for error in "${PREFLIGHT_ERRORS[@]}"; do
      say "refused: $error"
    done
    die "the Go module proxy ($GOPROXY) does not serve every module needed; nothing was built or installed"
  fi
}

# Sets the variable named $1 to the Go module version of a provider module
# that has no tags: $K8S_HA_<NAME>_MODULE_VERSION, or the pseudo-version of
# the commit of the npm SDK's release tag, found through the given tagged
# modules of the same repository. Records an error unless the proxy serves it.
resolve_provider_module_version() {
  local -n result=$1
  local name=$2 major=$3 module=$4 version=$5
  shift 5
  local override_var
  override_var="K8S_HA_$(tr '[:lower:]' '[:upper:]' <<<"$name")_MODULE_VERSION"
  result=${!override_var:-}
  if [[ -z $result ]] && ! result=$(pseudo_version_from_tag "$major" "$@"); then
    PREFLIGHT_ERRORS+=("$module (pulumi-resource-$name $version): the module has no tags of its own and the proxy names no commit for any of $*, so its pseudo-version is unknown; set $override_var")
    return 0
  fi
  check_module_served "$module" "$result" "pulumi-resource-$name $version" || true
}

# go build with the flags that upstream releases use.
build_binary() {
  local dir=$1 what=$2 out=$3 ldflags=$4 package=$5
  say "building $what (this takes minutes on a cold cache)"
  run_go "$dir" "$what" build -trimpath -tags osusergo,grpcnotrace -ldflags "-s -w $ldflags" -o "$out" "$package"
}

pulumi_cli_dir() { printf '%s\n' "$TOOLCHAIN_DIR/pulumi-v$PULUMI_VERSION/bin"; }

# Sets PULUMI_BIN_DIR when a usable pulumi is cached or on PATH: the wanted
# version with its Node.js language host beside it.
find_pulumi_cli() {
  local target existing dir
  target=$(pulumi_cli_dir)
  PULUMI_BIN_DIR=
  if [[ -x $target/pulumi && -x $target/pulumi-language-nodejs ]]; then
    PULUMI_BIN_DIR=$target
    return 0
  fi
  existing=$(command -v pulumi 2>/dev/null) || return 0
  existing=$(readlink -f -- "$existing")
  dir=$(dirname -- "$existing")
  if [[ -x $dir/pulumi-language-nodejs && $("$existing" version 2>/dev/null) == "v$PULUMI_VERSION" ]]; then
    say "using pulumi v$PULUMI_VERSION already on PATH in $dir"
    PULUMI_BIN_DIR=$dir
  fi
}

# Builds pulumi and pulumi-language-nodejs into one folder (the CLI looks for
# its bundled language hosts next to itself).
build_pulumi_cli() {
  [[ -n $PULUMI_BIN_DIR ]] && return 0
  local target version=v$PULUMI_VERSION
  target=$(pulumi_cli_dir)
  local stamp="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version"
  local scratch
  scratch=$(make_scratch_dir "$TOOLCHAIN_DIR")
  mkdir -p -- "$scratch/bin" "$scratch/cli" "$scratch/language-nodejs"

  local cli_what="github.com/pulumi/pulumi/pkg/v3@$version (pulumi CLI)"
  prepare_wrapper_module pulumi "$scratch/cli" "$cli_what" \
    "github.com/pulumi/pulumi/pkg/v3@$version" "github.com/pulumi/pulumi/sdk/v3@$version"
  build_binary "$scratch/cli" "$cli_what" "$scratch/bin/pulumi" "$stamp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

  local host_module=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
  local host_what="$host_module@$HOST_MODULE_VERSION (pulumi-language-nodejs for pulumi $version)"
  prepare_wrapper_module language-nodejs "$scratch/language-nodejs" "$host_what" \
    "$host_module@$HOST_MODULE_VERSION" "github.com/pulumi/pulumi/pkg/v3@$version" "github.com/pulumi/pulumi/sdk/v3@$version"
  build_binary "$scratch/language-nodejs" "$host_what" "$scratch/bin/pulumi-language-nodejs" "$stamp" "$host_module"

  local reported
  reported=$("$scratch/bin/pulumi" version) || die "the pulumi just built does not run"
  [[ $reported == "$version" ]] || die "the pulumi just built reports $reported, not $version"
  rm -rf -- "$scratch/cli" "$scratch/language-nodejs"
  rm -rf -- "$(dirname -- "$target")"
  mv -- "$scratch" "$(dirname -- "$target")"
  PULUMI_BIN_DIR=$target
}

provider_binary_path() { printf '%s\n' "$TOOLCHAIN_DIR/pulumi-resource-$1-v$2/pulumi-resource-$1"; }

# Builds pulumi-resource-command from github.com/pulumi/pulumi-command/provider.
build_command_provider() {
  local version=$COMMAND_VERSION target
  target=$(provider_binary_path command "$version")
  [[ -x $target ]] && return 0
  local module=github.com/pulumi/pulumi-command/provider
  local what="$module@$COMMAND_MODULE_VERSION (pulumi-resource-command $version)"
  local scratch
  scratch=$(make_scratch_dir "$TOOLCHAIN_DIR")
  mkdir -p -- "$scratch/src"
  prepare_wrapper_module command "$scratch/src" "$what" "$module@$COMMAND_MODULE_VERSION"
  build_binary "$scratch/src" "$what" "$scratch/pulumi-resource-command" \
    "-X $module/pkg/version.Version=$version" "$module/cmd/pulumi-resource-command"
  move_provider_into_place "$scratch" "$target"
}

# Builds a Terraform-bridged provider (tls, random) with our own main, which
# embeds the module's schema.json with the version added.
build_bridged_provider() {
  local name=$1 version=$2 major=$3 module_version=$4 target
  target=$(provider_binary_path "$name" "$version")
  [[ -x $target ]] && return 0
  local module=github.com/pulumi/pulumi-$name/provider/v$major
  local what="$module@$module_version (pulumi-resource-$name $version)"
  local scratch
  scratch=$(make_scratch_dir "$TOOLCHAIN_DIR")
  mkdir -p -- "$scratch/src"
  prepare_wrapper_module "$name" "$scratch/src" "$what" "$module@$module_version"
  write_embedded_schema "$scratch/src" "$module" "$name" "$version" "$what"
  build_binary "$scratch/src" "$what" "$scratch/pulumi-resource-$name" \
    "-X $module/pkg/version.Version=$version" .
  move_provider_into_place "$scratch" "$target"
}

write_embedded_schema() {
  local dir=$1 module=$2 name=$3 version=$4 what=$5 module_dir
  module_dir=$(cd "$dir" && go list -m -f '{{.Dir}}' "$module") || die "cannot locate $what in the module cache"
  local schema=$module_dir/cmd/pulumi-resource-$name/schema.json
  [[ -f $schema ]] || die "$what has no cmd/pulumi-resource-$name/schema.json"
  # shellcheck disable=SC2016 # JavaScript, not shell
  node24 -e '
    const fs = require("fs");
    const [src, dst, version] = process.argv.slice(1);
    const schema = JSON.parse(fs.readFileSync(src, "utf8"));
    fs.writeFileSync(dst, JSON.stringify({...schema, version}));
  ' "$schema" "$dir/schema-embed.json" "$version"
}

move_provider_into_place() {
  local scratch=$1 target=$2
  local binary
  binary=$scratch/$(basename -- "$target")
  [[ -x $binary ]] || die "go build left no $binary"
  rm -rf -- "$scratch/src"
  rm -rf -- "$(dirname -- "$target")"
  mv -- "$scratch" "$(dirname -- "$target")"
}

# Installs one provider binary as a plugin, unless that exact version is there.
install_provider_plugin() {
  local name=$1 version=$2 binary
  binary=$(provider_binary_path "$name" "$version")
  local plugin_dir=$PULUMI_HOME/plugins/resource-$name-v$version
  if [[ -x $plugin_dir/pulumi-resource-$name && ! -e $plugin_dir.partial ]]; then
    return 0
  fi
  say "installing plugin resource $name $version into $PULUMI_HOME"
  if ! "$PULUMI_BIN_DIR/pulumi" plugin install resource "$name" "$version" --file "$binary" >&2; then
    "$PULUMI_BIN_DIR/pulumi" plugin rm resource "$name" "$version" --yes >/dev/null 2>&1 || true
    rm -rf -- "$plugin_dir" "$plugin_dir.partial" "$plugin_dir.lock"
    die "pulumi plugin install resource $name $version --file $binary failed"
  fi
}

install_provider_plugins() {
  mkdir -p -- "$PULUMI_HOME"
  install_provider_plugin command "$COMMAND_VERSION"
  install_provider_plugin tls "$TLS_VERSION"
  install_provider_plugin random "$RANDOM_VERSION"
}

write_env_file() {
  mkdir -p -- "$(dirname -- "$ENV_FILE")"
  local tmp
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  cat >"$tmp" <<EOF
# Written by scripts/toolchain.sh: Node.js $NODE_MAJOR, pulumi v$PULUMI_VERSION and its plugins.
export PATH="$NODE_BIN_DIR:$PULUMI_BIN_DIR:\$PATH"
export PULUMI_HOME="$PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
EOF
  mv -- "$tmp" "$ENV_FILE"
}

# Appends each ignore line that .gitignore lacks (others edit it too).
ensure_gitignore_entries() {
  local file=$REPO_ROOT/.gitignore entry
  touch -- "$file"
  for entry in .tools/ node_modules/ .e2e/ bin/; do
    if ! grep -qxF -- "$entry" "$file"; then
      [[ -s $file && $(tail -c1 -- "$file") != "" ]] && printf '\n' >>"$file"
      printf '%s\n' "$entry" >>"$file"
    fi
  done
}

main() {
  check_go_proxy_setting
  take_cache_lock
  install_node
  read_pinned_versions
  find_pulumi_cli
  resolve_module_versions
  build_pulumi_cli
  build_command_provider
  build_bridged_provider tls "$TLS_VERSION" 5 "${TLS_MODULE_VERSION:-}"
  build_bridged_provider random "$RANDOM_VERSION" 4 "${RANDOM_MODULE_VERSION:-}"
  install_provider_plugins
  write_env_file
  ensure_gitignore_entries
  say "ready; source $ENV_FILE:"
  cat -- "$ENV_FILE"
}

# Sourcing the script (for tests) defines the functions without running them.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi

#!/usr/bin/env bash
# artifacts.sh: builds the files and images that the hosts of the dev stack
# download, at the versions the stack pins, from the Go module proxy, and lays
# them out as upstream publishes them (docs/CONVENTIONS.md) under
# $K8S_HA_CACHE/artifacts/www, which the lab serves on http://10.213.0.1:8080/.
# Images are assembled with crane and pushed to the lab registry under their
# upstream names; our own (the NFS provisioner of scripts/artifacts/
# nfs-provisioner) under k8s-ha/. See docs/airgap.md for filling a real mirror
# instead.
#
# Usage: scripts/artifacts.sh [build|push|check|pins|versions|help]
#   build     (default) build what is missing, lay out www/, build the images,
#             push them when the lab registry answers
#   push      push the cached images to the lab registry
#   check     fetch every URL of the dev stack from the lab's HTTP server,
#             verify it against its checksum file and against the stack
#             file's pin (k8s-ha:checksums), run each binary's version
#             command and list the lab registry's catalog
#   pins      print k8s-ha:checksums for the stack's versions, read from the
#             sum files beside the files under www/ on this disk (what
#             scripts/pulumi.sh copies into the dev stack's config); a file
#             without its sum file is named on stderr and left out
#   versions  print the versions in force and where each came from
#
# Environment:
#   K8S_HA_CACHE                cache root (default /var/cache/k8s-ha)
#   K8S_HA_ARTIFACTS_WWW        the tree in the upstream layouts (default
#                               $K8S_HA_CACHE/artifacts/www)
#   K8S_HA_STACK_FILE           stack config read for k8s-ha:versions and
#                               k8s-ha:downloads (default Pulumi.dev.yaml)
#   K8S_HA_<KEY>_VERSION        overrides one version: KUBERNETES, ETCD,
#                               CONTAINERD, RUNC, CNI, COREDNS, PAUSE
#   K8S_HA_CRANE_VERSION        crane to build (default 0.22.1)
#   K8S_HA_BUSYBOX_TAG          test image tag (default: Debian's busybox)
#   K8S_HA_ARTIFACTS_HTTP       file server to check instead of the stack's
#                               downloads (e.g. http://127.0.0.1:8080)
#   K8S_HA_ARTIFACTS_REGISTRY   registry to push to and check
#                               (default 10.213.0.1:5000, plain HTTP)
#   K8S_HA_ARTIFACTS_GOCACHE    Go build cache (default under the cache root)
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GLUE=$ROOT/scripts/artifacts
CACHE=${K8S_HA_CACHE:-/var/cache/k8s-ha}
ART=$CACHE/artifacts
BUILD=$ART/build
WWW=${K8S_HA_ARTIFACTS_WWW:-$ART/www}
IMAGES=$ART/images
STACK_FILE=${K8S_HA_STACK_FILE:-$ROOT/Pulumi.dev.yaml}
LAB_HTTP=${K8S_HA_ARTIFACTS_HTTP:-http://10.213.0.1:8080}
LAB_REGISTRY=${K8S_HA_ARTIFACTS_REGISTRY:-10.213.0.1:5000}

# The Go build cache lives with the other artifacts; the module cache is the
# user's usual one (GOMODCACHE), shared with any other Go work on the machine.
export GOCACHE=${K8S_HA_ARTIFACTS_GOCACHE:-$ART/gocache}
export GOWORK=off GOOS=linux GOARCH=amd64 GOAMD64=v1
export GOFLAGS=-mod=readonly

# Versions (no leading v), from the program (load_plan): the stack file's
# k8s-ha:versions and the program's defaults; each can be overridden by
# K8S_HA_<KEY>_VERSION in the environment.
VERSION_KEYS=()
declare -A VERSION=()
declare -A VERSION_FROM=()
CRANE_VERSION=${K8S_HA_CRANE_VERSION:-0.22.1}
# Our NFS provisioner: its version is the VERSION file of its module
# (load_versions), its build key that version and a hash of its source
# (nfsp_key).
NFSP_DIR=$GLUE/nfs-provisioner
NFSP_VERSION=
NFSP_KEY=

TMPS=()
BGPIDS=()

log() { printf 'artifacts: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local p d
  for p in "${BGPIDS[@]}"; do
    [[ -n $p ]] || continue
    kill "$p" 2>/dev/null || true
  done
  # A prefetch still running (the build stopped early): its go, then itself.
  for p in "${PREFETCH_PIDS[@]}"; do
    pkill -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  for d in "${TMPS[@]}"; do
    rm -rf "$d"
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'log "error: failed at line $LINENO: $BASH_COMMAND"' ERR

# ---------------------------------------------------------------- versions

# load_release_plan: what the program makes of the stack file (scripts/plan.sh): the versions,
# the download bases and every release file the hosts download; no script restates them.
# Versions from K8S_HA_<KEY>_VERSION go to it as overrides.
# shellcheck source=scripts/plan.sh
source "$ROOT/scripts/plan.sh"
load_release_plan() {
  local env key overrides=()
  for env in $(compgen -e | grep -E '^K8S_HA_[A-Z]+_VERSION$' | grep -v '^K8S_HA_CRANE_VERSION$' || true); do
    key=${env#K8S_HA_}
    key=${key%_VERSION}
    overrides+=("${key,,}=${!env#v}")
  done
  load_plan "$STACK_FILE" "${overrides[@]}" || die "the stack file ${STACK_FILE##*/} has problems (above); nothing was done"
}

load_versions() {
  local k v env
  load_release_plan
  while read -r k v; do
    VERSION_KEYS+=("$k")
    VERSION[$k]=$v
    VERSION_FROM[$k]=default
  done < <(plan_lines 'Object.entries(p.versions).map(([k, v]) => k + " " + v)')
  while read -r k; do
    [[ -n $k ]] && VERSION_FROM[$k]=${STACK_FILE##*/}
  done < <(plan_lines 'p.versionsGiven')
  for k in "${VERSION_KEYS[@]}"; do
    env=K8S_HA_${k^^}_VERSION
    if [[ -n ${!env:-} ]]; then VERSION_FROM[$k]=$env; fi
  done
  CRANE_VERSION=${CRANE_VERSION#v}
  NFSP_VERSION=$(tr -d ' \t\r\n' <"$NFSP_DIR/VERSION" 2>/dev/null || true)
  NFSP_VERSION=${NFSP_VERSION#v}
  [[ $NFSP_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
    die "$NFSP_DIR/VERSION does not hold a version: '$NFSP_VERSION'"
}

print_versions() {
  local k
  printf 'k8s-ha:versions:\n'
  for k in "${VERSION_KEYS[@]}"; do
    printf '  %-11s "%s"   # from %s\n' "$k:" "${VERSION[$k]}" "${VERSION_FROM[$k]}"
  done
  printf '# tools: crane %s; test image docker.io/library/busybox:%s\n' "$CRANE_VERSION" "${BUSYBOX_TAG:-?}"
  printf '# ours: nfs-provisioner %s (scripts/artifacts/nfs-provisioner/VERSION)\n' "$NFSP_VERSION"
}

# ---------------------------------------------------------------- helpers

# mktmp TEMPLATE: a temporary folder in REPLY, removed when the script ends.
mktmp() {
  REPLY=$(mktemp -d "$1")
  TMPS+=("$REPLY")
}

forget_pid() {
  local p keep=()
  for p in "${BGPIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  BGPIDS=("${keep[@]}")
}

# run_polled LABEL LOGFILE CMD...: runs CMD in the background with its output
# in LOGFILE, polls it, and says every minute that it is still going.
run_polled() {
  local label=$1 logf=$2
  shift 2
  local start=$SECONDS next=60 pid rc=0
  "$@" >"$logf" 2>&1 &
  pid=$!
  BGPIDS+=("$pid")
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS - start >= next)); then
      log "$label: still running ($((SECONDS - start))s)"
      next=$((next + 60))
    fi
  done
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}

# fail_build WHAT MODULE@VERSION LOGFILE: stops with the go error.
fail_build() {
  log "error: cannot build $1 from $2 ($(go version | cut -d' ' -f3)):"
  grep -v -E '^go: (downloading|finding module|found) ' "$3" | tail -n 40 | sed 's/^/artifacts:   /' >&2
  exit 1
}

# modinfo MODULE VERSION: downloads MODULE@VERSION into the module cache and
# prints `go mod download -json`; stops with the go error when it is not served.
modinfo() {
  local out
  if ! out=$(cd / && GOFLAGS='' go mod download -json "$1@$2" 2>&1) || grep -q '"Error"' <<<"$out"; then
    log "error: cannot build $1@$2: the Go module proxy does not give it:"
    sed -n 's/^.*"Error": "\(.*\)",\{0,1\}$/\1/p; /^go: /p' <<<"$out" | sed 's/\\n/\n/g; s/\\t/  /g' | sed 's/^/artifacts:   /' >&2
    exit 1
  fi
  printf '%s\n' "$out"
}
jfield() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" | head -n 1; }

# The commit time of a module version, for build dates and tarball mtimes.
modtime() { modinfo "$1" "$2" | jfield Time; }

# wrapper_matches DIR MODULE VERSION...: true when the committed wrapper module
# in DIR requires exactly these module versions.
wrapper_matches() {
  local dir=$1
  shift
  while (($#)); do
    grep -Eq "^[[:space:]]*(require[[:space:]]+)?$1 $2( |\$)" "$dir/go.mod" || return 1
    shift 2
  done
}

# fresh_wrapper SRC GOLINE MODULE VERSION...: rewrites the wrapper go.mod for
# other versions than the committed ones, then lets go mod tidy resolve it.
fresh_wrapper() {
  local src=$1 goline=$2 name
  shift 2
  name=$(sed -n 's/^module //p' "$src/go.mod")
  {
    printf 'module %s\n\ngo %s\n\nrequire (\n' "$name" "$goline"
    while (($#)); do
      printf '\t%s %s\n' "$1" "$2"
      shift 2
    done
    printf ')\n'
  } >"$src/go.mod"
  rm -f "$src/go.sum"
}

tidy() { # LABEL SRC MODULE@VERSION
  if ! run_polled "$1: go mod tidy" "$2/../tidy.log" env GOFLAGS= go -C "$2" mod tidy; then
    fail_build "$1" "$3" "$2/../tidy.log"
  fi
}

# have DIR FILE...: a finished cache entry holds every file.
have() {
  local d=$1 f
  shift
  [[ -d $d ]] || return 1
  for f; do [[ -s $d/$f ]] || return 1; done
}

# finish TMP DEST: records the sums and moves the finished build into place
# in one rename.
finish() {
  chmod -R a+rX,go-w "$1/out"
  (cd "$1/out" && find . -maxdepth 1 -type f ! -name BUILDINFO -printf '%P\n' | sort | xargs sha256sum >SHA256SUMS)
  mv -T "$1/out" "$2"
  rm -rf "$1"
}

CGO=0 # CGO_ENABLED for gobuild; build_runc sets it to 1 for its call
TIMES=()
note_time() { TIMES+=("$(printf '%-32s %5ss' "$1" "$2")"); }

gobuild() { # LABEL TMP MODULE@VERSION OUT PKG FLAGS...
  local label=$1 tmp=$2 modver=$3 out=$4 pkg=$5 t0=$SECONDS
  shift 5
  log "$label: go build $pkg"
  if ! run_polled "$label" "$tmp/$out.log" env CGO_ENABLED="$CGO" go build -C "$tmp/src" -trimpath -o "$tmp/out/$out" "$@" "$pkg"; then
    fail_build "$pkg" "$modver" "$tmp/$out.log"
  fi
  note_time "$label" $((SECONDS - t0))
  printf '%-28s %5ss  %s\n' "$out" $((SECONDS - t0)) "$*" >>"$tmp/out/BUILDINFO"
}

# start_build NAME VERSION: a temporary build folder in REPLY, next to the
# cache entry, with src/ (a copy of the wrapper module) and out/.
start_build() {
  mkdir -p "$BUILD"
  mktmp "$BUILD/.tmp-$1-$2.XXXXXX"
  cp -r "$GLUE/$1" "$REPLY/src"
  mkdir "$REPLY/out"
  printf '%s %s built with %s on %s\n' "$1" "$2" "$(go version | cut -d' ' -f3)" "$(date -u +%FT%TZ)" >"$REPLY/out/BUILDINFO"
}

# start_module_build NAME VERSION MODULE: checks that the proxy serves MODULE@vVERSION, then opens
# a build folder (in REPLY, as start_build) whose wrapper module requires exactly that version,
# rewriting and tidying the glue's wrapper when it pins another one.
start_module_build() {
  local name=$1 v=$2 mod=$3 dir
  modinfo "$mod" "v$v" >/dev/null
  start_build "$name" "$v"
  dir=$REPLY
  if ! wrapper_matches "$dir/src" "$mod" "v$v"; then
    fresh_wrapper "$dir/src" "$(sed -n 's/^go //p' "$dir/src/go.mod")" "$mod" "v$v"
    tidy "$name $v" "$dir/src" "$mod@v$v"
  fi
  REPLY=$dir
}

# ---------------------------------------------------------------- builds

KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)

build_kubernetes() {
  local v=$1 dest=$BUILD/kubernetes-$1 tmp info gomod mtime minor ld b staging m
  have "$dest" "${KUBE_BINARIES[@]}" && return 0
  log "kubernetes $v: building ${KUBE_BINARIES[*]}"
  info=$(modinfo k8s.io/kubernetes "v$v")
  start_build kubernetes "$v"
  tmp=$REPLY
  if ! wrapper_matches "$tmp/src" k8s.io/kubernetes "v$v"; then
    # k8s.io/kubernetes replaces its k8s.io/* staging modules with folders that
    # its module zip does not hold: pin each to the published v0.<minor>.<patch>.
    gomod=$(jfield GoMod <<<"$info")
    staging=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod")
    {
      printf 'module k8s-ha/artifacts/kubernetes\n\n'
      grep -E '^(go|godebug) ' "$gomod" || true
      printf '\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$v"
      for m in $staging; do printf '\t%s => %s v0.%s\n' "$m" "$m" "${v#*.}"; done
      printf ')\n'
    } >"$tmp/src/go.mod"
    rm -f "$tmp/src/go.sum"
    tidy "kubernetes $v" "$tmp/src" "k8s.io/kubernetes@v$v"
  fi
  mtime=$(jfield Time <<<"$info")
  minor=${v#*.}
  minor=${minor%%.*}
  ld="-s -w"
  for m in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld+=" -X $m.gitVersion=v$v -X $m.gitMajor=${v%%.*} -X $m.gitMinor=$minor -X $m.buildDate=$mtime"
  done
  for b in "${KUBE_BINARIES[@]}"; do
    gobuild "kubernetes $v: $b" "$tmp" "k8s.io/kubernetes@v$v" "$b" "k8s.io/kubernetes/cmd/$b" \
      -tags selinux,notest,grpcnotrace -ldflags "$ld"
  done
  finish "$tmp" "$dest"
}

build_etcd() {
  local v=$1 dest=$BUILD/etcd-$1 tmp m ld
  have "$dest" etcd etcdctl etcdutl && return 0
  log "etcd $v: building etcd etcdctl etcdutl"
  for m in server etcdctl etcdutl; do modinfo "go.etcd.io/etcd/$m/v3" "v$v" >/dev/null; done
  start_build etcd "$v"
  tmp=$REPLY
  if ! wrapper_matches "$tmp/src" go.etcd.io/etcd/server/v3 "v$v" go.etcd.io/etcd/etcdctl/v3 "v$v" go.etcd.io/etcd/etcdutl/v3 "v$v"; then
    fresh_wrapper "$tmp/src" "$(sed -n 's/^go //p' "$tmp/src/go.mod")" \
      go.etcd.io/etcd/server/v3 "v$v" go.etcd.io/etcd/etcdctl/v3 "v$v" go.etcd.io/etcd/etcdutl/v3 "v$v" \
      go.etcd.io/etcd/api/v3 "v$v" go.etcd.io/etcd/client/v3 "v$v" go.etcd.io/etcd/client/pkg/v3 "v$v" go.etcd.io/etcd/pkg/v3 "v$v"
    tidy "etcd $v" "$tmp/src" "go.etcd.io/etcd/server/v3@v$v"
  fi
  # Upstream stamps the git SHA; the module proxy has none, so say where it came from.
  ld="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-v$v"
  gobuild "etcd $v: etcd" "$tmp" "go.etcd.io/etcd/server/v3@v$v" etcd go.etcd.io/etcd/server/v3 -ldflags "$ld"
  gobuild "etcd $v: etcdctl" "$tmp" "go.etcd.io/etcd/etcdctl/v3@v$v" etcdctl go.etcd.io/etcd/etcdctl/v3 -ldflags "$ld"
  gobuild "etcd $v: etcdutl" "$tmp" "go.etcd.io/etcd/etcdutl/v3@v$v" etcdutl go.etcd.io/etcd/etcdutl/v3 -ldflags "$ld"
  finish "$tmp" "$dest"
}

build_containerd() {
  local v=$1 dest=$BUILD/containerd-$1 tmp mod=github.com/containerd/containerd/v2 ld
  have "$dest" containerd containerd-shim-runc-v2 ctr && return 0
  log "containerd $v: building containerd containerd-shim-runc-v2 ctr"
  start_module_build containerd "$v" "$mod"
  tmp=$REPLY
  # As upstream's static release (Makefile STATIC=1), without cgo: the btrfs
  # snapshotter, which needs cgo, is left out (no_btrfs).
  ld="-s -w -X $mod/version.Version=v$v -X $mod/version.Package=$mod"
  gobuild "containerd $v: containerd" "$tmp" "$mod@v$v" containerd "$mod/cmd/containerd" \
    -tags "urfave_cli_no_docs no_btrfs osusergo netgo static_build" -ldflags "$ld"
  gobuild "containerd $v: ctr" "$tmp" "$mod@v$v" ctr "$mod/cmd/ctr" \
    -tags "urfave_cli_no_docs no_btrfs osusergo netgo static_build" -ldflags "$ld"
  gobuild "containerd $v: shim" "$tmp" "$mod@v$v" containerd-shim-runc-v2 "$mod/cmd/containerd-shim-runc-v2" \
    -tags "urfave_cli_no_docs no_grpc" -ldflags "$ld"
  finish "$tmp" "$dest"
}

build_runc() {
  local v=$1 dest=$BUILD/runc-$1 tmp mod=github.com/opencontainers/runc ld
  have "$dest" runc && return 0
  log "runc $v: building runc (cgo, libseccomp)"
  if ! [[ -f /usr/lib/x86_64-linux-gnu/libseccomp.a ]] || ! command -v pkg-config >/dev/null || ! command -v gcc >/dev/null; then
    die "runc needs cgo and a static libseccomp: apt-get install gcc pkg-config libseccomp-dev"
  fi
  start_module_build runc "$v" "$mod"
  tmp=$REPLY
  # As upstream's `make static`: static PIE with libseccomp linked in.
  ld="-s -w -X main.gitCommit=module-v$v -linkmode external -extldflags -static-pie"
  local CGO=1
  gobuild "runc $v: runc" "$tmp" "$mod@v$v" runc "$mod" \
    -buildmode=pie -tags "seccomp urfave_cli_no_docs netgo osusergo" -ldflags "$ld"
  finish "$tmp" "$dest"
}

CNI_PLUGINS=(main/bridge main/dummy main/host-device main/ipvlan main/loopback main/macvlan main/ptp main/tap main/vlan
  ipam/dhcp ipam/host-local ipam/static meta/bandwidth meta/firewall meta/portmap meta/sbr meta/tuning meta/vrf)

build_cni() {
  local v=$1 dest=$BUILD/cni-$1 tmp mod=github.com/containernetworking/plugins p names=() t0=$SECONDS
  for p in "${CNI_PLUGINS[@]}"; do names+=("${p#*/}"); done
  have "$dest" "${names[@]}" && return 0
  log "cni $v: building ${names[*]}"
  start_module_build cni "$v" "$mod"
  tmp=$REPLY
  for p in "${CNI_PLUGINS[@]}"; do
    gobuild "cni $v: ${p#*/}" "$tmp" "$mod@v$v" "${p#*/}" "$mod/plugins/$p" \
      -ldflags "-s -w -X $mod/pkg/utils/buildversion.BuildVersion=v$v"
  done
  TIMES=("${TIMES[@]:0:${#TIMES[@]}-${#CNI_PLUGINS[@]}}")
  note_time "cni $v: ${#CNI_PLUGINS[@]} plugins" $((SECONDS - t0))
  finish "$tmp" "$dest"
}

build_coredns() {
  local v=$1 dest=$BUILD/coredns-$1 tmp mod=github.com/coredns/coredns
  have "$dest" coredns && return 0
  log "coredns $v: building coredns"
  start_module_build coredns "$v" "$mod"
  tmp=$REPLY
  gobuild "coredns $v: coredns" "$tmp" "$mod@v$v" coredns "$mod" \
    -ldflags "-s -w -X $mod/coremain.GitCommit=module-v$v"
  finish "$tmp" "$dest"
}

build_crane() {
  local v=$1 dest=$BUILD/crane-$1 tmp mod=github.com/google/go-containerregistry
  have "$dest" crane && return 0
  log "crane $v: building crane"
  start_module_build crane "$v" "$mod"
  tmp=$REPLY
  gobuild "crane $v: crane" "$tmp" "$mod@v$v" crane "$mod/cmd/crane" \
    -ldflags "-s -w -X $mod/cmd/crane/cmd.Version=v$v"
  finish "$tmp" "$dest"
}

build_pause() {
  local v=$1 dest=$BUILD/pause-$1 tmp
  have "$dest" pause && return 0
  log "pause $v: building pause (scripts/artifacts/pause)"
  start_build pause "$v"
  tmp=$REPLY
  gobuild "pause $v: pause" "$tmp" "scripts/artifacts/pause" pause . -ldflags "-s -w -X main.version=$v"
  finish "$tmp" "$dest"
}

# nfsp_key: the cache key of our NFS provisioner in NFSP_KEY: its version and
# 12 hex digits of a sha256 over its source (names and contents), so that a
# change of the code rebuilds it while a warm run builds nothing.
nfsp_key() {
  local h
  h=$(cd "$NFSP_DIR" && printf '%s\n' go.mod go.sum ./*.go nfsdir/*.go | LC_ALL=C sort | xargs sha256sum | sha256sum)
  NFSP_KEY=$NFSP_VERSION-${h:0:12}
}

build_nfs_provisioner() {
  local v=$NFSP_VERSION dest tmp
  nfsp_key
  dest=$BUILD/nfs-provisioner-$NFSP_KEY
  have "$dest" nfs-provisioner && return 0
  log "nfs-provisioner $v: building nfs-provisioner (scripts/artifacts/nfs-provisioner, source ${NFSP_KEY#"$v"-})"
  start_build nfs-provisioner "$NFSP_KEY"
  tmp=$REPLY
  gobuild "nfs-provisioner $v: nfs-provisioner" "$tmp" "scripts/artifacts/nfs-provisioner" nfs-provisioner . \
    -ldflags "-s -w -X main.version=$v"
  finish "$tmp" "$dest"
}

# ---------------------------------------------------------------- www layout

# put FILE DEST: installs FILE as DEST unless DEST already has that content;
# FILE is hard-linked when it can be (build outputs), never rewritten in place.
put() {
  local src=$1 dest=$2
  if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
    return 0
  fi
  mkdir -p "${dest%/*}"
  ln -f "$src" "$dest.tmp.$$" 2>/dev/null || cp "$src" "$dest.tmp.$$"
  chmod a+r "$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
  log "wrote ${dest#"$WWW"/}"
}

# put_text TEXT DEST: TEXT as is, no newline added.
put_text() {
  local t
  t=$(mktemp "$WORK/text.XXXXXX")
  printf '%s' "$1" >"$t"
  put "$t" "$2"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
# bsum NAME-VERSION FILE: the sum recorded when the build was cached.
bsum() { awk -v f="$2" '$2 == f { print $1 }' "$BUILD/$1/SHA256SUMS"; }

# tgz DIR OUT MTIME ENTRY...: a reproducible tarball: sorted names, root
# owner, one mtime (the module's commit time), gzip without name or time.
tgz() {
  local dir=$1 out=$2 mtime=$3
  shift 3
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" --mode='u+w,go-w,a+rX' \
    --format=gnu -C "$dir" -cf - "$@" | gzip -n >"$out"
}

# tarball_current DEST INPUT...: true when DEST was made from these very
# inputs (same files, by inode, size and mtime) by an earlier run, so a warm
# run neither re-packs nor rewrites it.
tarball_current() {
  local dest=$1 stamp
  shift
  stamp=$ART/stamps/${dest#"$WWW"/}
  STAMP_FILE=$stamp
  STAMP_TEXT=$(stat -L -c '%n %i %s %Y' "$@" 2>/dev/null)$'\n'
  [[ -f $dest && -f $stamp ]] || return 1
  [[ $(cat "$stamp") == "${STAMP_TEXT%$'\n'}"$'\n'"$(stat -c '%i %s %Y' "$dest")" ]]
}
stamp_tarball() {
  mkdir -p "${STAMP_FILE%/*}"
  printf '%s%s\n' "$STAMP_TEXT" "$(stat -c '%i %s %Y' "$1")" >"$STAMP_FILE"
}

WORK=

layout() {
  local k=${VERSION[kubernetes]} e=${VERSION[etcd]} c=${VERSION[containerd]} r=${VERSION[runc]} p=${VERSION[cni]}
  local b d f stage name mtime inputs
  mktmp "${TMPDIR:-/tmp}/k8s-ha-artifacts.XXXXXX"
  WORK=$REPLY
  mkdir -p "$WWW"

  # Each file where the hosts download it (WWW_FILE, from the plan), in its upstream format.
  # Kubernetes: bare binaries, each with a .sha256 of bare hex.
  for b in "${KUBE_BINARIES[@]}"; do
    put "$BUILD/kubernetes-$k/$b" "${WWW_FILE[$b]}"
    put_text "$(bsum "kubernetes-$k" "$b")" "${WWW_SUMS[$b]}"
  done

  # etcd: etcd-v<e>-linux-amd64/{etcd,etcdctl,etcdutl,README-*.md} and SHA256SUMS.
  f=${WWW_FILE[etcd]}
  name=$(basename "$f" .tar.gz)
  d=${f%/*}
  inputs=("$BUILD/etcd-$e"/{etcd,etcdctl,etcdutl})
  if ! tarball_current "$d/$name.tar.gz" "${inputs[@]}"; then
    stage=$WORK/etcd/$name
    mkdir -p "$stage"
    cp "${inputs[@]}" "$stage/"
    f=$(modinfo go.etcd.io/etcd/etcdctl/v3 "v$e" | jfield Dir)
    cp "$f/README.md" "$stage/README-etcdctl.md"
    f=$(modinfo go.etcd.io/etcd/etcdutl/v3 "v$e" | jfield Dir)
    cp "$f/README.md" "$stage/README-etcdutl.md"
    mtime=$(modtime go.etcd.io/etcd/server/v3 "v$e")
    tgz "$WORK/etcd" "$WORK/$name.tar.gz" "$mtime" "$name"
    put "$WORK/$name.tar.gz" "$d/$name.tar.gz"
    stamp_tarball "$d/$name.tar.gz"
  fi
  put_text "$(sha "$d/$name.tar.gz")  $name.tar.gz"$'\n' "${WWW_SUMS[etcd]}"

  # containerd: bin/{containerd,containerd-shim-runc-v2,ctr}.
  f=${WWW_FILE[containerd]}
  name=${f##*/}
  d=${f%/*}
  inputs=("$BUILD/containerd-$c"/{containerd,containerd-shim-runc-v2,ctr})
  if ! tarball_current "$d/$name" "${inputs[@]}"; then
    stage=$WORK/containerd
    mkdir -p "$stage/bin"
    cp "${inputs[@]}" "$stage/bin/"
    mtime=$(modtime github.com/containerd/containerd/v2 "v$c")
    tgz "$stage" "$WORK/$name" "$mtime" bin
    put "$WORK/$name" "$d/$name"
    stamp_tarball "$d/$name"
  fi
  put_text "$(sha "$d/$name")  $name"$'\n' "${WWW_SUMS[containerd]}"

  # runc: the bare binary, and runc.sha256sum naming it.
  f=${WWW_FILE[runc]}
  put "$BUILD/runc-$r/runc" "$f"
  put_text "$(bsum "runc-$r" runc)  ${f##*/}"$'\n' "${WWW_SUMS[runc]}"

  # CNI plugins at the top level of the tarball, with upstream's LICENSE and README.md.
  f=${WWW_FILE[cni]}
  name=${f##*/}
  d=${f%/*}
  inputs=()
  for f in "${CNI_PLUGINS[@]}"; do inputs+=("$BUILD/cni-$p/${f#*/}"); done
  if ! tarball_current "$d/$name" "${inputs[@]}"; then
    stage=$WORK/cni
    mkdir -p "$stage"
    cp "${inputs[@]}" "$stage/"
    f=$(modinfo github.com/containernetworking/plugins "v$p" | jfield Dir)
    cp "$f/LICENSE" "$f/README.md" "$stage/"
    mtime=$(modtime github.com/containernetworking/plugins "v$p")
    tgz "$stage" "$WORK/$name" "$mtime" .
    put "$WORK/$name" "$d/$name"
    stamp_tarball "$d/$name"
  fi
  put_text "$(sha "$d/$name")  $name"$'\n' "${WWW_SUMS[cni]}"
}

# The upstream host and path of each download base (a key of k8s-ha:downloads),
# which is also where layout puts the files under www/; and the base URLs of the
# downloads, as k8s-ha:downloads of the stack gives them, or the lab's stand-ins
# (the upstream host and path under $LAB_HTTP) for those it lacks or when
# K8S_HA_ARTIFACTS_HTTP is set. Both from the plan (load_downloads).
declare -A UPSTREAM=()
declare -A DOWNLOADS=()
# Where each release file (by its name in the plan) and its vendor's checksum file go under www/.
declare -A WWW_FILE=() WWW_SUMS=()
load_downloads() {
  local k v name base path sums
  [[ -n $PLAN ]] || load_release_plan
  while read -r k v; do
    UPSTREAM[$k]=${v#*://}
    DOWNLOADS[$k]=$LAB_HTTP/${UPSTREAM[$k]}
  done < <(plan_lines 'Object.entries(p.upstream).map(([k, v]) => k + " " + v)')
  if [[ -z ${K8S_HA_ARTIFACTS_HTTP:-} ]]; then
    while read -r k v; do
      if [[ -n $k ]]; then DOWNLOADS[$k]=${v%/}; fi
    done < <(plan_lines 'p.downloadsGiven.map((k) => k + " " + p.downloads[k])')
  fi
  while read -r name base path sums; do
    WWW_FILE[$name]=$WWW/${UPSTREAM[$base]}/$path
    WWW_SUMS[$name]=$WWW/${UPSTREAM[$base]}/$sums
  done < <(plan_lines 'p.artifacts.map((a) => [a.name, a.base, a.path, a.sums].join(" "))')
}

# artifact_files: every file the stack's hosts download, as the program names them
# (components/urls.ts through the plan), in "BASE PIN FILE SUMFILE" lines: BASE
# the key of k8s-ha:downloads, PIN the key of the file's pin in k8s-ha:checksums
# (NAME@VERSION), FILE and the checksum file its vendor publishes beside it,
# both relative to the base.
artifact_files() {
  plan_lines 'p.artifacts.map((a) => [a.base, a.pinKey, a.path, a.sums].join(" "))'
}

# The dev stack's downloads: "PIN URL CHECKSUM-URL" lines.
stack_urls() {
  local base pin file sums
  while read -r base pin file sums; do
    printf '%s %s %s\n' "$pin" "${DOWNLOADS[$base]}/$file" "${DOWNLOADS[$base]}/$sums"
  done < <(artifact_files)
}

# pins: k8s-ha:checksums for the stack's versions, from the sum files under
# www/ on this disk (never over http), in the stack file's YAML. A file whose
# sum file is missing is named on stderr and left out.
pins() {
  local base pin file sums want missing=()
  printf 'k8s-ha:checksums:\n'
  while read -r base pin file sums; do
    sums=$WWW/${UPSTREAM[$base]}/$sums
    want=
    [[ -f $sums ]] && want=$(expected_sum "$sums" "${file##*/}")
    if [[ $want =~ ^[0-9a-f]{64}$ ]]; then
      printf '  %s: "%s"\n' "$pin" "$want"
    else
      missing+=("$pin")
    fi
  done < <(artifact_files)
  if ((${#missing[@]})); then
    log "pins: no sum file under $WWW names a sha256 for ${missing[*]}; build them: K8S_HA_STACK_FILE=${STACK_FILE#"$ROOT"/} npm run artifacts"
  fi
}

# ---------------------------------------------------------------- images

CRANE=
# busybox_tag: the test image's tag, the upstream version of Debian's
# busybox-static (1:1.35.0-4+deb12u1+b1 is busybox 1.35.0), in BUSYBOX_TAG.
BUSYBOX_TAG=
busybox_tag() {
  BUSYBOX_TAG=${K8S_HA_BUSYBOX_TAG:-$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null | sed 's/^[0-9]*://; s/-[^-]*$//')}
  [[ -n $BUSYBOX_TAG || ${1:-} == --quiet ]] ||
    die "the busybox test image needs Debian's busybox-static (apt-get install busybox-static) or K8S_HA_BUSYBOX_TAG"
}

# "NAME TAG" of every image the cluster needs, under its upstream name; ours
# under k8s-ha/ (pods pull it from the mirror as <mirror>/k8s-ha/...).
image_list() {
  printf 'registry.k8s.io/pause %s\n' "${VERSION[pause]}"
  printf 'registry.k8s.io/coredns/coredns v%s\n' "${VERSION[coredns]}"
  printf 'docker.io/library/busybox %s\n' "$BUSYBOX_TAG"
  printf 'k8s-ha/nfs-provisioner v%s\n' "$NFSP_VERSION"
}
image_dir() { printf '%s/%s_%s\n' "$IMAGES" "${1//\//_}" "$2"; }
# The manifest digest of an OCI layout.
layout_digest() { grep -o '"digest": *"sha256:[0-9a-f]*"' "$1/index.json" | head -n 1 | grep -o 'sha256:[0-9a-f]*'; }

LOCAL_REG=
start_local_registry() {
  [[ -n $LOCAL_REG ]] && return 0
  local logf=$WORK/registry.log pid
  "$CRANE" registry serve --address 127.0.0.1:0 >"$logf" 2>&1 &
  pid=$!
  BGPIDS+=("$pid")
  for _ in $(seq 50); do
    LOCAL_REG=$(sed -n 's/.*serving on port \([0-9]*\).*/127.0.0.1:\1/p' "$logf")
    [[ -n $LOCAL_REG ]] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$logf" >&2
  die "crane registry serve did not start"
}

# build_image NAME TAG ROOTFS MTIME MUTATE-FLAGS...: one layer from ROOTFS on an
# empty OCI base, assembled in a throw-away registry on loopback, saved as an
# OCI layout under images/.
build_image() {
  local name=$1 tag=$2 rootfs=$3 mtime=$4 dest tmp ref
  shift 4
  dest=$(image_dir "$name" "$tag")
  [[ -f $dest/index.json ]] && return 0
  start_local_registry
  mktmp "$IMAGES/.tmp-${name//\//_}_$tag.XXXXXX"
  tmp=$REPLY
  ref=$LOCAL_REG/$name:$tag
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" --format=gnu -C "$rootfs" -cf "$tmp/layer.tar" .
  if ! { "$CRANE" append --oci-empty-base -f "$tmp/layer.tar" -t "$ref" &&
    "$CRANE" mutate "$ref" --set-platform linux/amd64 -t "$ref" "$@" &&
    "$CRANE" pull --format oci "$ref" "$tmp/oci"; } >"$tmp/crane.log" 2>&1; then
    sed 's/^/artifacts:   /' "$tmp/crane.log" >&2
    die "crane could not assemble $name:$tag"
  fi
  mv -T "$tmp/oci" "$dest"
  rm -rf "$tmp"
  log "image $name:$tag built: $(layout_digest "$dest")"
}

# image_from_binary NAME TAG SUM: our own images keep their tag while their
# source changes; drops the cached layout of NAME:TAG when it was made from
# another binary than the one whose sha256 is SUM, so that build_image makes
# it again. stamp_image records SUM once it is built.
image_from_binary() {
  local dir
  dir=$(image_dir "$1" "$2")
  STAMP_FILE=$ART/stamps/images/${dir##*/}
  if [[ -f $dir/index.json && $(cat "$STAMP_FILE" 2>/dev/null) != "$3" ]]; then
    log "image $1:$2: its binary changed, building it again"
    rm -rf "$dir"
  fi
}
stamp_image() {
  mkdir -p "${STAMP_FILE%/*}"
  [[ $(cat "$STAMP_FILE" 2>/dev/null) == "$1" ]] || printf '%s\n' "$1" >"$STAMP_FILE"
}

build_images() {
  local rootfs mtime a tag sum
  mkdir -p "$IMAGES"
  rm -rf "$IMAGES"/.tmp-*

  rootfs=$WORK/rootfs-pause
  mkdir -p "$rootfs"
  cp "$BUILD/pause-${VERSION[pause]}/pause" "$rootfs/pause"
  build_image registry.k8s.io/pause "${VERSION[pause]}" "$rootfs" @0 \
    --entrypoint /pause --user 65535:65535

  # Root by default, unlike upstream's distroless image whose binary carries
  # cap_net_bind_service: the Deployment grants NET_BIND_SERVICE for port 53.
  rootfs=$WORK/rootfs-coredns
  mkdir -p "$rootfs"
  cp "$BUILD/coredns-${VERSION[coredns]}/coredns" "$rootfs/coredns"
  mtime=$(modtime github.com/coredns/coredns "v${VERSION[coredns]}")
  build_image registry.k8s.io/coredns/coredns "v${VERSION[coredns]}" "$rootfs" "$mtime" \
    --entrypoint /coredns --exposed-ports 53/tcp,53/udp

  tag=$BUSYBOX_TAG
  rootfs=$WORK/rootfs-busybox
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root" "$rootfs/tmp" "$rootfs/var"
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in $("$rootfs/bin/busybox" --list); do
    [[ $a == busybox ]] || ln -s busybox "$rootfs/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  build_image docker.io/library/busybox "$tag" "$rootfs" @0 \
    --cmd sh --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

  # Ours, pulled as <mirror>/k8s-ha/nfs-provisioner; runs as nobody.
  tag=v$NFSP_VERSION
  rootfs=$WORK/rootfs-nfs-provisioner
  mkdir -p "$rootfs"
  cp "$BUILD/nfs-provisioner-$NFSP_KEY/nfs-provisioner" "$rootfs/nfs-provisioner"
  sum=$(bsum "nfs-provisioner-$NFSP_KEY" nfs-provisioner)
  image_from_binary k8s-ha/nfs-provisioner "$tag" "$sum"
  build_image k8s-ha/nfs-provisioner "$tag" "$rootfs" @0 \
    --entrypoint /nfs-provisioner --user 65534:65534
  stamp_image "$sum"
}

registry_up() { curl -fsS -o /dev/null --max-time 5 "http://$LAB_REGISTRY/v2/" 2>/dev/null; }

push_images() {
  local name tag dir want have out
  if ! registry_up; then
    log "the lab registry does not answer at http://$LAB_REGISTRY/v2/: images stay in $IMAGES"
    log "push them later with: scripts/artifacts.sh push"
    return 0
  fi
  while read -r name tag; do
    dir=$(image_dir "$name" "$tag")
    [[ -f $dir/index.json ]] || die "image $name:$tag is not built: run scripts/artifacts.sh"
    want=$(layout_digest "$dir")
    have=$("$CRANE" digest --insecure "$LAB_REGISTRY/$name:$tag" 2>/dev/null || true)
    if [[ $have == "$want" ]]; then
      log "image $LAB_REGISTRY/$name:$tag is up to date"
      continue
    fi
    if ! out=$("$CRANE" push --insecure "$dir" "$LAB_REGISTRY/$name:$tag" 2>&1); then
      printf '%s\n' "$out" | sed 's/^/artifacts:   /' >&2
      die "crane push $LAB_REGISTRY/$name:$tag failed"
    fi
    log "pushed $LAB_REGISTRY/$name:$tag ($want)"
  done < <(image_list)
}

# ---------------------------------------------------------------- check

# check_image_binary NAME TAG: runs the version command of the program in the
# image as the registry serves it (with crane export, when crane is built).
check_image_binary() {
  local name=$1 tag=$2 root bin args expect out
  CRANE=$BUILD/crane-$CRANE_VERSION/crane
  [[ -x $CRANE ]] || CRANE=$(command -v crane || true)
  [[ -n $CRANE ]] || return 0
  case $name in
    */pause) bin=pause args=-v expect="pause $tag" ;;
    */coredns) bin=coredns args=-version expect="CoreDNS-${tag#v}" ;;
    */busybox) bin=bin/busybox args=--help expect="BusyBox v$tag" ;;
    */nfs-provisioner) bin=nfs-provisioner args=--version expect="nfs-provisioner ${tag#v}" ;;
    *) return 0 ;;
  esac
  root=$WORK/image-${name//\//_}
  mkdir -p "$root"
  # One retry: a registry under load can cut a stream short.
  if ! "$CRANE" export --insecure "$LAB_REGISTRY/$name:$tag" - 2>"$root.err" | tar -C "$root" -x "$bin" 2>>"$root.err" &&
    ! "$CRANE" export --insecure "$LAB_REGISTRY/$name:$tag" - 2>"$root.err" | tar -C "$root" -x "$bin" 2>>"$root.err"; then
    log "FAIL $LAB_REGISTRY/$name:$tag: cannot read /$bin from the image: $(tr '\n' ' ' <"$root.err")"
    return 1
  fi
  out=$({ "$root/$bin" "$args" 2>&1 || true; } | head -n 1)
  if [[ $out == *"$expect"* ]]; then
    log "ok   $name:$tag /$bin: $out"
  else
    log "FAIL $name:$tag /$bin: wanted '$expect', got: $out"
    return 1
  fi
}

# expected_sum SUMFILE BASENAME: the convention of docs/CONVENTIONS.md.
expected_sum() {
  awk -v base="$2" '
    NR == 1 { first = $1 }
    $NF == base || $NF == "*" base { print $1; found = 1; exit }
    END { if (!found) print first }
  ' "$1"
}

check() {
  local pin url sumurl f want got fails=0 dir line bin expect out name tag tags k v
  local -A PIN=()
  mktmp "${TMPDIR:-/tmp}/k8s-ha-artifacts-check.XXXXXX"
  WORK=$REPLY
  dir=$WORK/files
  mkdir -p "$dir"
  load_downloads
  # The stack file's pins (k8s-ha:checksums): what the hosts check each file against.
  while read -r k v; do
    if [[ -n $k ]]; then PIN[$k]=$v; fi
  done < <(plan_lines 'Object.entries(p.checksums).map(([k, v]) => k + " " + v)')
  if ((${#PIN[@]} == 0)); then
    log "${STACK_FILE##*/} pins no checksums (k8s-ha:checksums): checking against the checksum files only (the dev stack's pins are those files' sums, which scripts/pulumi.sh copies into its effective config)"
  fi
  log "checking the downloads of the dev stack"
  while read -r pin url sumurl; do
    f=$dir/${url##*/}
    if ! curl -fsS --max-time 300 -o "$f" "$url"; then
      log "FAIL $url: cannot download"
      fails=$((fails + 1))
      continue
    fi
    if ! curl -fsS --max-time 60 -o "$f.sum" "$sumurl"; then
      log "FAIL $sumurl: cannot download"
      fails=$((fails + 1))
      continue
    fi
    want=$(expected_sum "$f.sum" "${url##*/}")
    got=$(sha "$f")
    if [[ $want != "$got" ]]; then
      log "FAIL $url: sha256 $got, checksum file says ${want:-nothing}"
      fails=$((fails + 1))
    elif ((${#PIN[@]} == 0)); then
      log "ok   $url sha256 $got"
    elif [[ -z ${PIN[$pin]:-} ]]; then
      log "FAIL $url: ${STACK_FILE##*/} has no pin k8s-ha:checksums.$pin, so the stack would be refused (its sha256 here: $got)"
      fails=$((fails + 1))
    elif [[ ${PIN[$pin]} != "$got" ]]; then
      log "FAIL $url: sha256 $got, the stack pins ${PIN[$pin]} (k8s-ha:checksums.$pin): the hosts would refuse it"
      fails=$((fails + 1))
    else
      log "ok   $url sha256 $got, as the checksum file says and the stack pins"
    fi
  done < <(stack_urls)

  mkdir -p "$dir/x"
  for f in "$dir"/*.tar.gz "$dir"/*.tgz; do
    [[ -f $f ]] && tar -C "$dir/x" -xzf "$f"
  done
  [[ -f $dir/runc.amd64 ]] && cp "$dir/runc.amd64" "$dir/x/runc"
  for bin in "${KUBE_BINARIES[@]}"; do [[ -f $dir/$bin ]] && cp "$dir/$bin" "$dir/x/$bin"; done
  chmod -R u+x "$dir/x"
  log "version of each binary:"
  local k=${VERSION[kubernetes]} e=${VERSION[etcd]} c=${VERSION[containerd]}
  while IFS='|' read -r bin expect line; do
    f=$(find "$dir/x" -type f -name "$bin" | head -n 1)
    if [[ -z $f ]]; then
      log "FAIL $bin: not in the downloads"
      fails=$((fails + 1))
      continue
    fi
    # shellcheck disable=SC2086 # $line holds the arguments
    out=$(cd "$dir" && { env $line 2>&1 || true; } | tr '\n' ' ' | sed 's/  */ /g')
    out=${out//$dir\/x\//}
    if [[ $out == *"$expect"* ]]; then
      log "ok   $bin: ${out:0:150}"
    else
      log "FAIL $bin: wanted '$expect', got: ${out:0:300}"
      fails=$((fails + 1))
    fi
  done < <(
    for bin in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet; do
      printf '%s|Kubernetes v%s|%s --version\n' "$bin" "$k" "$dir/x/$bin"
    done
    printf 'kubectl|Client Version: v%s|%s version --client\n' "$k" "$dir/x/kubectl"
    for bin in etcd etcdctl etcdutl; do
      f=$dir/x/etcd-v$e-linux-amd64/$bin
      if [[ $bin == etcd ]]; then printf '%s|etcd Version: %s|%s --version\n' "$bin" "$e" "$f"; else printf '%s|%s version: %s|%s version\n' "$bin" "$bin" "$e" "$f"; fi
    done
    printf 'containerd|containerd/v2 v%s|%s --version\n' "$c" "$dir/x/bin/containerd"
    printf 'ctr|v%s|%s --version\n' "$c" "$dir/x/bin/ctr"
    printf 'containerd-shim-runc-v2|v%s|%s -v\n' "$c" "$dir/x/bin/containerd-shim-runc-v2"
    printf 'runc|runc version %s|%s --version\n' "${VERSION[runc]}" "$dir/x/runc"
    for bin in "${CNI_PLUGINS[@]}"; do
      printf '%s|CNI %s plugin v%s|%s\n' "${bin#*/}" "${bin#*/}" "${VERSION[cni]}" "$dir/x/${bin#*/}"
    done
  )

  log "catalog of http://$LAB_REGISTRY/v2/:"
  if ! out=$(curl -fsS --max-time 10 "http://$LAB_REGISTRY/v2/_catalog"); then
    log "FAIL the lab registry does not answer at http://$LAB_REGISTRY/v2/_catalog"
    fails=$((fails + 1))
  else
    log "     $out"
    while read -r name tag; do
      tags=$(curl -fsS --max-time 10 "http://$LAB_REGISTRY/v2/$name/tags/list" 2>/dev/null || true)
      if [[ $tags == *"\"$tag\""* ]]; then
        log "ok   $LAB_REGISTRY/$name:$tag"
      else
        log "FAIL $LAB_REGISTRY/$name:$tag is not in the registry (tags: ${tags:-none})"
        fails=$((fails + 1))
        continue
      fi
      check_image_binary "$name" "$tag" || fails=$((fails + 1))
    done < <(image_list)
  fi
  if ((fails)); then
    die "check: $fails problem(s)"
  fi
  log "check: everything matches"
}

# ---------------------------------------------------------------- main

# prefetch_modules: downloads, in the background, every module the committed wrapper modules
# need, while the first builds compile: on a cold machine the downloads (network) and the
# compiles (CPU) overlap instead of taking turns. Each download runs on a copy of its wrapper's
# go.mod and go.sum (the tracked files stay as they are); the module cache's own locks make
# concurrent downloads of one module safe. A failed prefetch only loses the overlap: the build
# downloads what it lacks itself and reports any error (so its status is not checked here).
PREFETCH_PIDS=()
prefetch_modules() {
  local d name
  for d in "$GLUE"/*/; do
    [[ -f $d/go.mod && -f $d/go.sum ]] || continue
    name=$(basename "$d")
    mktmp "$BUILD/.tmp-prefetch-$name.XXXXXX"
    cp "$d/go.mod" "$d/go.sum" "$REPLY/"
    (cd "$REPLY" && { GOFLAGS='' go mod download >download.log 2>&1 || true; } && rm -rf "$REPLY") &
    PREFETCH_PIDS+=($!)
  done
}

build_all() {
  local t0=$SECONDS k
  mkdir -p "$BUILD"
  prefetch_modules
  build_crane "$CRANE_VERSION"
  build_pause "${VERSION[pause]}"
  build_nfs_provisioner
  build_runc "${VERSION[runc]}"
  build_cni "${VERSION[cni]}"
  build_containerd "${VERSION[containerd]}"
  build_etcd "${VERSION[etcd]}"
  build_coredns "${VERSION[coredns]}"
  build_kubernetes "${VERSION[kubernetes]}"
  wait "${PREFETCH_PIDS[@]}" 2>/dev/null || true
  CRANE=$BUILD/crane-$CRANE_VERSION/crane
  layout
  build_images
  push_images
  if ((${#TIMES[@]})); then
    log "build times:"
    for k in "${TIMES[@]}"; do log "  $k"; done
  else
    log "nothing to build: every binary was in $BUILD"
  fi
  log "sizes: $(du -sh "$BUILD" "$WWW" "$IMAGES" 2>/dev/null | awk '{printf "%s %s  ", $2, $1}')"
  log "done in $((SECONDS - t0))s; www: $WWW"
}

main() {
  local verb=${1:-build}
  case $verb in
    -h | --help | help)
      sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      return 0
      ;;
  esac
  load_versions
  load_downloads
  case $verb in
    versions | pins) busybox_tag --quiet ;;
    *) busybox_tag ;;
  esac
  case $verb in
    versions) print_versions ;;
    pins) pins ;;
    build | push)
      if ! command -v go >/dev/null; then
        # The go scripts/setup.sh found or installed (.tools/env.sh has it on PATH), or /usr/local/go.
        # shellcheck source=/dev/null
        [[ -f $ROOT/.tools/env.sh ]] && source "$ROOT/.tools/env.sh"
        command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
        command -v go >/dev/null || die "go is not on PATH; run bash scripts/setup.sh (it installs Go)"
      fi
      mkdir -p "$ART"
      exec 9>"$ART/.lock"
      if [[ $verb == push ]]; then
        # A build in progress pushes at its end; a push waits for it.
        flock -n 9 || { log "waiting for the artifacts.sh that holds $ART/.lock"; flock 9; }
        CRANE=$BUILD/crane-$CRANE_VERSION/crane
        [[ -x $CRANE ]] || die "crane is not built: run scripts/artifacts.sh first"
        push_images
      else
        # A minute of grace: the helpers of a build that just ended (its throw-away registry) may
        # still hold the lock's descriptor for a moment.
        flock -w 60 9 || die "another artifacts.sh is running (lock $ART/.lock)"
        rm -rf "$BUILD"/.tmp-*
        log "versions: $(for k in "${VERSION_KEYS[@]}"; do printf '%s %s, ' "$k" "${VERSION[$k]}"; done)crane $CRANE_VERSION"
        build_all
      fi
      ;;
    check) check ;;
    *) die "unknown verb '$verb' (build, push, check, pins, versions, help)" ;;
  esac
}

# One line, so that bash has read all of it before anything runs.
main "$@"; exit $?

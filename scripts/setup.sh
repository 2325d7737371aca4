#!/usr/bin/env bash
# All the set-up of a Debian 12 machine for k8s-ha, as root:
#   1. Debian packages the tests' checkers and the lab need;
#   2. Node.js 24 (from the npm package node@24) and the npm packages, and Go when the machine has
#      none new enough for the artifacts build (from the Go module proxy, scripts/toolchain.sh);
#   3. the cluster artifacts (Kubernetes, etcd, containerd, runc, CNI, images), built from the Go
#      module proxy and cached (scripts/artifacts.sh);
#   4. the Pulumi toolchain from the release mirror (scripts/toolchain.sh).
# Every step is cached and idempotent: a second run takes seconds.
# Settings: K8S_HA_SKIP_ARTIFACTS=1 skips step 3, K8S_HA_SKIP_PULUMI=1 skips step 4.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf 'setup: %s\n' "$*" >&2; }
die() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}

# Checkers the unit tests run on rendered configs, and tools of the lab and the artifacts build.
PACKAGES=(shellcheck haproxy keepalived systemd chrony nfs-kernel-server docker-registry python3 openssl
    iproute2 util-linux curl ca-certificates git nftables
    # the artifacts build: runc links libseccomp statically; the test image is Debian's static busybox
    gcc pkg-config libseccomp-dev busybox-static
    # the lab checks: a userspace NFS client (this kernel has none)
    libnfs-utils
    # npm run init's tests: a real sshd on loopback, ssh-keyscan and ssh-keygen
    openssh-server openssh-client)

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]} > 0)); then
        say "installing ${missing[*]}"
        apt-get update -qq
        # Daemons must not start on the machine that runs the tests: they are only checkers here.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
            { rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
        rm -f /usr/sbin/policy-rc.d
    fi
}

setup_node() {
    # toolchain.sh defines its functions without running them when sourced.
    # shellcheck source=scripts/toolchain.sh
    source "$ROOT/scripts/toolchain.sh"
    install_node
    install_go
}
# The folder of the go that setup_node found or installed.
go_dir() (
    # shellcheck source=scripts/toolchain.sh
    source "$ROOT/scripts/toolchain.sh"
    go_bin_dir
)

[[ $(id -u) == 0 ]] || die "run as root (it installs Debian packages)"
install_packages
(setup_node)
NODE_BIN=${K8S_HA_CACHE:-/var/cache/k8s-ha}/node/node_modules/node/bin
GO_DIR=$(go_dir) || die "no go after its install; see the messages above"
export PATH=$NODE_BIN:$GO_DIR:$PATH
say "node $(node --version), $(go version | cut -d' ' -f3)"
npm ci --no-audit --no-fund --loglevel=error
if [[ ${K8S_HA_SKIP_ARTIFACTS:-0} != 1 ]]; then
    bash scripts/artifacts.sh
fi
if [[ ${K8S_HA_SKIP_PULUMI:-0} != 1 ]]; then
    bash scripts/toolchain.sh
fi
say "done"

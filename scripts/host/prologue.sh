#!/usr/bin/env bash
# The first lines of every host script Pulumi runs, in place of the script's `source .../lib.sh`
# line. The shared library is installed once per host, as lib-<sha256>.sh under K8SHA_LIB_DIR,
# instead of travelling inside every command (it would be most of every command's text, and of the
# state). The facts step, which every other step on the host depends on, installs it from its stdin
# (K8SHA_LIB_INSTALL=yes), checked against the hash. Every other step only sources it. The hash is
# part of each command's text, so a change to the library still re-runs every step, and an older
# command's delete still finds the version it was written with (versions are kept until the facts
# step's delete removes the folder, the last step to go from a host). A create also saves the
# script itself there for the step's delete (keep_script_for_delete, run-saved.sh).
# Environment: K8SHA_LIB (the library's sha256), K8SHA_LIB_INSTALL, K8SHA_LIB_DIR (default
# /usr/local/lib/k8s-ha), K8SHA_HOST.
k8sha_lib_dir=${K8SHA_LIB_DIR:-/usr/local/lib/k8s-ha}
k8sha_lib=$k8sha_lib_dir/lib-${K8SHA_LIB:?the runner sets K8SHA_LIB}.sh
k8sha_fail() {
    printf 'k8s-ha[%s]: error: %s\n' "${K8SHA_HOST:-$(hostname)}" "$1" >&2
    exit 1
}
if [[ ${K8SHA_LIB_INSTALL:-} == yes ]]; then
    mkdir -p "$k8sha_lib_dir" || k8sha_fail "cannot create $k8sha_lib_dir"
    k8sha_tmp=$(mktemp "$k8sha_lib_dir/.lib.XXXXXX") || k8sha_fail "cannot write in $k8sha_lib_dir"
    cat >"$k8sha_tmp"
    if ! printf '%s  %s\n' "$K8SHA_LIB" "$k8sha_tmp" | sha256sum -c --status; then
        rm -f "$k8sha_tmp"
        k8sha_fail "the library received on stdin does not have the sha256 $K8SHA_LIB (cut short on the way?); run pulumi up again"
    fi
    chmod 0644 "$k8sha_tmp"
    mv -f "$k8sha_tmp" "$k8sha_lib"
fi
[[ -r $k8sha_lib ]] || k8sha_fail "$k8sha_lib is missing (the facts step installs it): run pulumi up; if the host was wiped, run pulumi refresh first"
# shellcheck source=scripts/host/lib.sh
source "$k8sha_lib"
if [[ ${1:-} == create ]]; then keep_script_for_delete; fi

#!/usr/bin/env bash
# Shared by the lab checks (scripts/hosts-check.sh, scripts/hosts-faults.sh): where things are,
# and `on HOST CMD...`, which runs a command on a lab host with the lab key and its pinned host key.
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
CACHE=${K8S_HA_CACHE:-/var/cache/k8s-ha}
K8S_VERSION=$(awk '$1 == "kubernetes:" {print $2; exit}' "$ROOT/Pulumi.dev.yaml")
KUBECTL=$CACHE/artifacts/build/kubernetes-$K8S_VERSION/kubectl
export KUBECONFIG=$ROOT/.e2e/admin.kubeconfig
VIP=10.213.0.10
declare -A ADDR=([lb1]=10.213.0.11 [lb2]=10.213.0.12 [cp1]=10.213.0.21 [cp2]=10.213.0.22 [cp3]=10.213.0.23
    [w1]=10.213.0.31 [w2]=10.213.0.32 [w3]=10.213.0.33 [mirror]=10.213.0.41 [nfs]=10.213.0.51)

on() {
    local host=$1
    shift
    ssh -i .tools/lab/id_ed25519 -o UserKnownHostsFile=.tools/lab/known_hosts -o StrictHostKeyChecking=yes \
        -o BatchMode=yes -o ConnectTimeout=10 "root@${ADDR[$host]}" "$@"
}

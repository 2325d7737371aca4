#!/usr/bin/env bash
# ControlPlane, last, from the first control-plane host as the installer (K8SHA_KUBECONFIG): waits until every
# Deployment in kube-system (CoreDNS) is Available, so that `up` returns a cluster whose DNS answers.
# It installs nothing, so there is nothing to delete.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBECONFIG=${K8SHA_KUBECONFIG:?K8SHA_KUBECONFIG is not set}
export KUBECONFIG

create() {
    # The add-ons step applied them before any worker existed; their pods start once workers are Ready.
    if ! kubectl -n kube-system wait --for=condition=Available deployment --all --timeout=180s >&2; then
        kubectl -n kube-system get deployments,pods -o wide >&2 || true
        fatal "the kube-system Deployments did not become Available within 180 s"
    fi
    info "kube-system Deployments Available"
}

delete() { :; }

run_verb "${1:-}"

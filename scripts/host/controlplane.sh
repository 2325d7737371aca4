#!/usr/bin/env bash
# ControlPlane, on each control-plane host: kube-apiserver, kube-controller-manager and kube-scheduler
# as systemd services. Each service restarts only when one of its own files changed. The kubelet
# serving certificates' approver of earlier releases goes with its files (prune_owned).
# Files (stdin): the PKI, kubeconfigs, configs and units components/controlplane.ts sends, each with
# the units a change to it restarts.
# Environment: K8S_URL (base of .../bin/linux/amd64), and each binary's pinned sha256 (k8s-ha:checksums):
# KUBE_APISERVER_SHA256, KUBE_CONTROLLER_MANAGER_SHA256,
# KUBE_SCHEDULER_SHA256, KUBECTL_SHA256; the roll's settings (components/controlplane.ts rollEnv):
# K8SHA_APISERVER_PORT, K8SHA_AGENT_STATE (the file HAProxy's agent reads),
# K8SHA_AGENT_DRAIN (its word for "no new connections"), K8SHA_LB_STATS ("LBHOST=ADDRESS:PORT ..."),
# K8SHA_LB_BACKEND, K8SHA_LB_SERVER (this host's server), K8SHA_LB_SETTLE_SECONDS, K8SHA_LB_DRAIN_SECONDS.
# Drain before down: an apiserver that must restart is first taken out of HAProxy's rotation (the
# agent says drain), and the roll goes on only once both lb hosts show it back UP.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# install_k8s_binary NAME SHA256: downloads the binary, checked against its pin, and installs it.
install_k8s_binary() {
    local name=$1 sha256=$2
    fetch_verified "$K8S_URL/$name" "$sha256" "/var/cache/k8s-ha/$name" || true
    install_binary "/var/cache/k8s-ha/$name" "/usr/local/bin/$name"
}

apiserver_ready() { [[ $(curl -fsSk --max-time 5 "https://127.0.0.1:$K8SHA_APISERVER_PORT/readyz") == ok ]]; }

# set_agent WORD: what HAProxy's agent on this host answers (drain, or ready: the apiserver's
# /readyz decides), written whole so the agent never reads half a word.
set_agent() {
    local dir
    dir=$(dirname "$K8SHA_AGENT_STATE")
    mkdir -p "$dir"
    chmod 0755 "$dir"
    printf '%s\n' "$1" >"$K8SHA_AGENT_STATE.tmp"
    chmod 0644 "$K8SHA_AGENT_STATE.tmp"
    mv -f "$K8SHA_AGENT_STATE.tmp" "$K8SHA_AGENT_STATE"
}

# lb_server LB: "SESSIONS,STATUS" of this host's server on lb host LB (NAME=ADDRESS:PORT), from
# its HAProxy's stats page (CSV, columns found by name). Fails when the page does not answer (2)
# or has no such server (1).
lb_server() {
    local csv
    csv=$(curl -fsS --max-time 5 "http://${1#*=}/;csv;norefresh") || return 2
    awk -F, -v be="$K8SHA_LB_BACKEND" -v sv="$K8SHA_LB_SERVER" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == be && $2 == sv { print $col["scur"] "," $col["status"]; found = 1 }
        END { exit !found }' <<<"$csv"
}

# wait_for_lbs WANT: until every lb host shows this host's server WANT: drained (no new
# connections: DRAIN, or DOWN, MAINT), or up (UP, in rotation, no check pending), polled once a
# second for K8SHA_LB_SETTLE_SECONDS at most on each.
wait_for_lbs() {
    local want=$1 lb view seen i
    for lb in $K8SHA_LB_STATS; do
        seen="not read yet"
        for ((i = 0; ; i++)); do
            if view=$(lb_server "$lb"); then
                seen="shows it ${view#*,}"
                case $want in
                drained) [[ ${view#*,} != UP* ]] && break ;;
                up) [[ ${view#*,} == UP ]] && break ;;
                esac
            elif (($? == 1)); then
                seen="has no server $K8SHA_LB_SERVER in backend $K8SHA_LB_BACKEND (its haproxy.cfg is older than this step)"
            else
                seen="did not answer on http://${lb#*=}/ (its HAProxy's stats page)"
            fi
            if ((i >= K8SHA_LB_SETTLE_SECONDS)); then
                roll_failed "lb host ${lb%%=*} did not show $K8SHA_LB_BACKEND/$K8SHA_LB_SERVER $want within ${K8SHA_LB_SETTLE_SECONDS}s: it $seen"
            fi
            sleep 1
        done
        info "lb host ${lb%%=*}: $K8SHA_LB_BACKEND/$K8SHA_LB_SERVER ${view#*,}"
    done
}

# count_sessions: this server's connections, summed over the lb hosts, into SESSIONS.
SESSIONS=0
count_sessions() {
    local lb view
    SESSIONS=0
    for lb in $K8SHA_LB_STATS; do
        view=$(lb_server "$lb") || roll_failed "lb host ${lb%%=*} stopped answering on http://${lb#*=}/ while $K8SHA_LB_BACKEND/$K8SHA_LB_SERVER drained"
        SESSIONS=$((SESSIONS + ${view%%,*}))
    done
}

# left_drained: an earlier run drained this apiserver and did not put it back.
left_drained() { [[ -f $K8SHA_AGENT_STATE && $(<"$K8SHA_AGENT_STATE") != ready ]]; }

# While drained and not yet restarted, a failed roll puts the apiserver back as it was.
DRAINED=no
roll_failed() {
    if [[ $DRAINED == yes ]]; then set_agent ready; fi
    fatal "$1"
}

# drain: takes this apiserver out of rotation for new connections on both lb hosts, then gives
# the ones it has K8SHA_LB_DRAIN_SECONDS to end (clients that keep theirs open, watches, are
# closed by the apiserver's own graceful shutdown).
drain() {
    info "draining $K8SHA_LB_BACKEND/$K8SHA_LB_SERVER on the lb hosts before restarting kube-apiserver"
    DRAINED=yes
    set_agent "$K8SHA_AGENT_DRAIN"
    wait_for_lbs drained
    local i
    for ((i = 0; ; i++)); do
        count_sessions
        ((SESSIONS == 0)) && break
        if ((i >= K8SHA_LB_DRAIN_SECONDS)); then
            info "$SESSIONS connections still open after ${K8SHA_LB_DRAIN_SECONDS}s; the apiserver's graceful shutdown ends them"
            break
        fi
        sleep 1
    done
    DRAINED=no
}

# undrain: the agent follows /readyz again; the roll goes on once both lb hosts show this server UP.
undrain() {
    set_agent ready
    wait_for_lbs up
}

create() {
    read_bundle
    mkdir -p /var/log/kubernetes
    chmod 0700 /var/log/kubernetes
    local apiserver=no controller=no scheduler=no
    if install_k8s_binary kube-apiserver "${KUBE_APISERVER_SHA256:-}"; then apiserver=yes; fi
    if install_k8s_binary kube-controller-manager "${KUBE_CONTROLLER_MANAGER_SHA256:-}"; then controller=yes; fi
    if install_k8s_binary kube-scheduler "${KUBE_SCHEDULER_SHA256:-}"; then scheduler=yes; fi
    install_k8s_binary kubectl "${KUBECTL_SHA256:-}" || true
    install_bundle || true
    [[ $(restart_of kube-apiserver) == yes ]] && apiserver=yes
    [[ $(restart_of kube-controller-manager) == yes ]] && controller=yes
    [[ $(restart_of kube-scheduler) == yes ]] && scheduler=yes
    service_apply k8s-ha-apiserver-agent.socket "$(restart_of k8s-ha-apiserver-agent.socket)"
    # What service_apply restarts: a changed apiserver, or any after an interrupted run.
    local restart=$apiserver back=no
    [[ $PENDING_AT_START == yes ]] && restart=yes
    if [[ $restart == yes ]] || left_drained; then back=yes; fi
    if [[ $restart == yes ]] && systemctl is-active -q kube-apiserver; then drain; fi
    service_apply kube-apiserver "$apiserver"
    wait_until 180 "kube-apiserver to be ready on https://127.0.0.1:$K8SHA_APISERVER_PORT/readyz" apiserver_ready
    # A new apiserver, a restarted one, or one an earlier run left drained: the next host's roll
    # waits until both lb hosts send traffic here again.
    if [[ $back == yes ]]; then undrain; fi
    service_apply kube-controller-manager "$controller"
    service_apply kube-scheduler "$scheduler"
    wait_until 60 "kube-controller-manager to be healthy" curl -fsSk https://127.0.0.1:10257/healthz
    wait_until 60 "kube-scheduler to be healthy" curl -fsSk https://127.0.0.1:10259/healthz
    info "control plane ready"
}

delete() {
    service_remove k8s-ha-csr-approver kube-scheduler kube-controller-manager kube-apiserver
    if systemctl is-enabled -q k8s-ha-apiserver-agent.socket 2>/dev/null; then
        systemctl disable --now -q k8s-ha-apiserver-agent.socket
        info "stopped k8s-ha-apiserver-agent.socket"
    fi
    if [[ -n ${K8SHA_AGENT_STATE:-} ]]; then remove_paths "$(dirname "$K8SHA_AGENT_STATE")"; fi
    local b
    for b in "${BINARIES[@]}"; do remove_paths "/usr/local/bin/$b" "/var/cache/k8s-ha/$b"; done
    remove_owned
    remove_paths /var/log/kubernetes /etc/k8s-ha/csr-approver /usr/local/lib/k8s-ha/csr-approver
    if [[ -d /etc/kubernetes ]] && [[ -z $(find /etc/kubernetes -type f -print -quit) ]]; then
        remove_paths /etc/kubernetes
    fi
    info "control plane removed"
}

run_verb "${1:-}"

#!/usr/bin/env bash
# k8s-ha's approver of kubelet serving certificates, on each control-plane host
# (k8s-ha-csr-approver.service). The kubelets request their serving certificates from the cluster
# (serverTLSBootstrap); the controller-manager signs a request once it is approved. This approves a
# pending request of signer kubernetes.io/kubelet-serving only when all of these hold, and denies it
# otherwise, saying why:
#   - it comes from a node of this cluster (user system:node:NAME in group system:nodes, NAME listed
#     in NODES);
#   - its subject is O=system:nodes, CN=system:node:NAME;
#   - its names are that node's own: DNS names NAME only, IP addresses the node's listed address only;
#   - its usages are server auth, digital signature and key encipherment, with server auth.
# Settings (environment): HOST (for messages), NODES (file of "NAME ADDRESS" lines), KUBECONFIG,
# INTERVAL (seconds between looks, default 2). With --once it looks once and exits.
set -uo pipefail
export LC_ALL=C
HOST=${HOST:-$(hostname)}
INTERVAL=${INTERVAL:-2}
SIGNER=kubernetes.io/kubelet-serving
say() { printf 'k8s-ha[%s]: csr-approver: %s\n' "$HOST" "$*" >&2; }
[[ -r ${NODES:-} && -r ${KUBECONFIG:-} ]] || {
    say "error: NODES and KUBECONFIG must name readable files"
    exit 1
}
export KUBECONFIG
kubectl=${KUBECTL:-/usr/local/bin/kubectl}

# One line per pending request of the signer: NAME|USER|GROUPS,|USAGES,|REQUEST (base64 PEM).
PENDING='{{range .items}}{{if not .status.conditions}}{{.metadata.name}}|{{.spec.username}}|{{range .spec.groups}}{{.}},{{end}}|{{range .spec.usages}}{{.}},{{end}}|{{.spec.request}}{{"\n"}}{{end}}{{end}}'

# address_of NAME: the node's listed address (empty when it is not a node of this cluster).
address_of() { awk -v n="$1" '$1 == n { print $2; exit }' "$NODES"; }

# problem_with USER GROUPS USAGES PEM: why a request may not be approved (nothing when it may).
problem_with() {
    local user=$1 groups=$2 usages=$3 pem=$4 node address subject sans san u
    [[ $user =~ ^system:node:([a-z0-9.-]+)$ ]] || {
        echo "requested by $user, not by a node"
        return
    }
    node=${BASH_REMATCH[1]}
    address=$(address_of "$node")
    [[ -n $address ]] || {
        echo "$node is not a node of this cluster"
        return
    }
    [[ ,$groups == *,system:nodes,* ]] || {
        echo "$user is not in group system:nodes"
        return
    }
    subject=$(openssl req -noout -subject -nameopt RFC2253 <<<"$pem" 2>/dev/null) || {
        echo "the request does not parse"
        return
    }
    [[ $subject == "subject=CN=system:node:$node,O=system:nodes" ]] || {
        echo "subject ${subject#subject=} is not CN=system:node:$node,O=system:nodes"
        return
    }
    sans=$(openssl req -noout -text <<<"$pem" 2>/dev/null | awk '/X509v3 Subject Alternative Name/ { getline; gsub(/^[ \t]+/, ""); print; exit }')
    IFS=, read -r -a list <<<"$sans"
    for san in "${list[@]}"; do
        san=${san# }
        case $san in
            "DNS:$node" | "IP Address:$address") ;;
            *)
                echo "$san is not $node's own name or address ($address)"
                return
                ;;
        esac
    done
    IFS=, read -r -a list <<<"${usages%,}"
    for u in "${list[@]}"; do
        case $u in
            "server auth" | "digital signature" | "key encipherment") ;;
            *)
                echo "usage $u is not one of a serving certificate's"
                return
                ;;
        esac
    done
    [[ ,$usages == *",server auth,"* ]] || echo "the usages lack server auth"
}

look() {
    local lines name user groups usages request pem why
    lines=$("$kubectl" get csr --field-selector "spec.signerName=$SIGNER" -o go-template="$PENDING" 2>&1) || {
        say "cannot list the certificate requests: ${lines//$'\n'/ }"
        return 0
    }
    while IFS='|' read -r name user groups usages request; do
        [[ -n $name ]] || continue
        pem=$(base64 -d <<<"$request" 2>/dev/null)
        why=$(problem_with "$user" "$groups" "$usages" "$pem")
        if [[ -z $why ]]; then
            "$kubectl" certificate approve "$name" >/dev/null 2>&1 && say "approved $name (the serving certificate of ${user#system:node:})"
        else
            "$kubectl" certificate deny "$name" >/dev/null 2>&1 && say "denied $name: $why"
        fi
    done <<<"$lines"
}

if [[ ${1:-} == --once ]]; then
    look
    exit 0
fi
say "approving the serving certificates of the nodes in $NODES"
while :; do
    look
    sleep "$INTERVAL"
done

#!/usr/bin/env bash
# A host in miniature, for test/render-firewall.test.ts: run inside `unshare -rnm` (a user, network
# and mount namespace of its own; nothing of the machine's network is touched). This namespace is
# the host (192.0.2.31); a client (192.0.2.60) hangs off it on a veth pair. The rules file under
# test is loaded; a listener serves port 22 (which the rules open) and 8080 (which they refuse).
# The client connects to 8080 in a tight loop while the host re-applies the rules COUNT times,
# then prints "ssh connected|refused|timeout" (one connection to 22, before the loop), "applied N"
# and "8080 connected N refused N timeout N".
# MODE is how the rules are re-applied: `step`, firewall.sh's own apply_rules (one nft transaction);
# `split`, the stop and start of a unit restart (nft delete table, then nft -f: two transactions).
# Usage: firewall-reload.sh RULES_FILE MODE COUNT
set -Eeuo pipefail
rules=$1 mode=$2 count=$3
py=$(command -v python3)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# firewall.sh's functions, without its lib.sh or its verb (as test/firewall-guard.test.ts reads them).
K8SHA_HOST=h1
info() { printf 'k8s-ha[%s]: %s\n' "$K8SHA_HOST" "$*" >&2; }
warn() { info "warning: $*"; }
fatal() { info "error: $*"; exit 1; }
eval "$(grep -v -e '^source ' -e '^run_verb ' "$here/../../scripts/host/firewall.sh")"

# `ip netns` keeps its handles under /run/netns: a private /run in this mount namespace.
mount -t tmpfs none /run
mkdir -p /run/netns
ip netns add client
ip link set lo up
ip link add r-client type veth peer name eth0 netns client
ip addr add 192.0.2.31/24 dev r-client
ip link set r-client up
ip -n client link set lo up
ip -n client addr add 192.0.2.60/24 dev eth0
ip -n client link set eth0 up

apply_rules "$rules"

stop=$(mktemp -u /run/stop.XXXXXX)
listen='
import socket, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", port)); s.listen(512)
    while True:
        c, _ = s.accept(); c.close()
for port in (22, 8080):
    threading.Thread(target=serve, args=(port,), daemon=True).start()
threading.Event().wait()
'
"$py" -c "$listen" &
listen_pid=$!
client='
import os, socket, sys
def attempt(port):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect(("192.0.2.31", port)); return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "timeout"
    finally:
        s.close()
print("ssh", attempt(22), flush=True)
counts = {"connected": 0, "refused": 0, "timeout": 0}
open(sys.argv[1] + ".started", "w").close()
while not os.path.exists(sys.argv[1]):
    counts[attempt(8080)] += 1
print("8080 connected %d refused %d timeout %d" % (counts["connected"], counts["refused"], counts["timeout"]), flush=True)
'
trap 'kill "$listen_pid" 2>/dev/null || true' EXIT
sleep 0.3
nsenter --net=/run/netns/client "$py" -c "$client" "$stop" &
client_pid=$!
for _ in $(seq 100); do [[ -e $stop.started ]] && break; sleep 0.05; done

applied=0
for _ in $(seq "$count"); do
    case $mode in
    step) apply_rules "$rules" ;;
    split) nft delete table inet k8s_ha && nft -f "$rules" ;;
    *) fatal "unknown mode $mode" ;;
    esac
    applied=$((applied + 1))
done
echo "applied $applied"
touch "$stop"
wait "$client_pid"

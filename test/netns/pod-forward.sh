#!/usr/bin/env bash
# A worker in miniature, for test/render-firewall.test.ts: run inside `unshare -rnm` (a user, network
# and mount namespace of its own; nothing of the machine's network is touched). This namespace is
# the worker; a pod (198.18.0.2 in 198.18.0.0/24, the CNI's masquerade on the way out) and a "node
# network" (192.0.2.0/24: the NFS host 192.0.2.51, another host 192.0.2.60) hang off it on veth pairs.
# A kube-proxy-like table accepts every forwarded packet and DNATs two "Services"; then the rules
# file under test is loaded, and the pod connects to each TARGET (host:port, TCP), printing
# "TARGET connected|timeout|refused" per line, then "seen-from ADDRESS" for each source the
# listeners saw.
# Usage: pod-forward.sh RULES_FILE TARGET...
set -Eeuo pipefail
rules=$1
shift
py=$(command -v python3)

# `ip netns` keeps its handles under /run/netns: a private /run in this mount namespace.
mount -t tmpfs none /run
mkdir -p /run/netns
ip netns add pod
ip netns add net
ip link set lo up
ip link add r-pod type veth peer name eth0 netns pod
ip link add r-net type veth peer name eth0 netns net
ip addr add 198.18.0.1/24 dev r-pod
ip addr add 192.0.2.31/24 dev r-net
ip link set r-pod up
ip link set r-net up
ip -n pod link set lo up
ip -n pod addr add 198.18.0.2/24 dev eth0
ip -n pod link set eth0 up
ip -n pod route add default via 198.18.0.1
ip -n net link set lo up
ip -n net addr add 192.0.2.51/24 dev eth0
ip -n net addr add 192.0.2.60/24 dev eth0
ip -n net link set eth0 up
echo 1 >/proc/sys/net/ipv4/ip_forward

# What the CNI bridge plugin (ipMasq) and kube-proxy put in their own tables, in short.
nft -f - <<'NFT'
table ip cni-like {
    chain postrouting {
        type nat hook postrouting priority srcnat;
        ip saddr 198.18.0.0/24 ip daddr != 198.18.0.0/24 masquerade
    }
}
table ip kube-proxy-like {
    chain forward {
        type filter hook forward priority filter - 10;
        accept
    }
    chain prerouting {
        type nat hook prerouting priority dstnat;
        ip daddr 10.96.0.10 tcp dport 2049 dnat to 192.0.2.51:2049
        ip daddr 10.96.0.11 tcp dport 80 dnat to 192.0.2.51:80
    }
}
NFT
nft -f "$rules"

seen=$(mktemp)
listen='
import socket, sys, threading
def serve(addr, port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((addr, port)); s.listen()
    while True:
        c, peer = s.accept(); open(sys.argv[1], "a").write(peer[0] + "\n"); c.close()
for spec in sys.argv[2:]:
    addr, port = spec.rsplit(":", 1)
    threading.Thread(target=serve, args=(addr, int(port)), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
'
# The node network's listeners, and the worker's own (for a worker that is the NFS host too).
nsenter --net=/run/netns/net "$py" -c "$listen" "$seen" 0.0.0.0:2049 0.0.0.0:111 0.0.0.0:80 0.0.0.0:5001 >/dev/null &
net_pid=$!
"$py" -c "$listen" "$seen" 0.0.0.0:2049 0.0.0.0:22 0.0.0.0:5001 >/dev/null &
own_pid=$!
trap 'kill "$net_pid" "$own_pid" 2>/dev/null || true; rm -f "$seen"' EXIT
sleep 0.5

nsenter --net=/run/netns/pod "$py" -c '
import socket, sys
for t in sys.argv[1:]:
    host, port = t.rsplit(":", 1)
    s = socket.socket(); s.settimeout(1)
    try:
        s.connect((host, int(port))); r = "connected"
    except socket.timeout:
        r = "timeout"
    except ConnectionRefusedError:
        r = "refused"
    print(t, r, flush=True)
    s.close()
' "$@"
sleep 0.2
sort -u "$seen" | sed 's/^/seen-from /'

#!/usr/bin/env bash
# A local lab of Linux hosts for k8s-ha: the dev stack's topology (docs/CONVENTIONS.md, "Lab
# topology") as systemd-nspawn machines plus two qemu (TCG) VMs on the bridge k8sha0: the NFS server,
# and w4, a worker whose kernel can mount NFS (the nspawn machines share this machine's kernel, which
# has no NFS client).
#
#   lab.sh up [--install-deps]   create or repair the lab; idempotent (a second run changes nothing)
#   lab.sh down [--purge]        remove all that `up` made; --purge also drops the cached base images
#   lab.sh status                each machine, its address, its process, SSH and systemd state
#   lab.sh forwarding            that the host forwards nothing for the machines, and what it dropped
#   lab.sh ssh NAME [CMD...]     SSH into a machine as root with the lab key and its pinned host key
#   lab.sh check [--nested] [--kubelet]
#                                smoke check: pinned SSH + `systemctl is-system-running` = running on
#                                every machine, and a VRRP VIP that moves between lb1 and lb2;
#                                --nested also runs a container (Debian's containerd + runc) inside w1;
#                                --kubelet runs kubelet with a static pod in a throwaway machine
#                                (needs the artifacts: kubelet, containerd, runc, pause, busybox)
#   lab.sh deps                  apt-get install the host tools the lab needs
#
# Needs root. Missing tools stop `up` with the apt-get command that gets them; `up --install-deps`,
# K8S_HA_LAB_INSTALL_DEPS=1 or CI=true install them instead (a fresh CI machine needs no manual step).
#
# Machines run as background processes with pid files (this kind of host has no systemd as PID 1),
# each in a cgroup of its own (scripts/lab/cgroups.sh); they keep running after `up` returns. On a
# host with systemd as PID 1 they run as transient services k8s-ha-lab-NAME (that path is untested).
# The capabilities each machine gets, and why, are in nspawn_args and scripts/lab/node-prep.sh.
#
# Where things live:
#   $K8S_HA_CACHE/lab/base-<hash>/rootfs   cached debootstrap root of the nspawn machines (kept by `down`)
#   $K8S_HA_CACHE/lab/nfs-<hash>/          cached root, kernel and initrd of the VMs (kept by `down`)
#   $K8S_HA_CACHE/lab/run/                 per-machine files (removed by `down`): machines/NAME/{upper,work}
#                                          of the overlay mounted at machines/NAME/rootfs (lower = the base),
#                                          machines/NAME/containerd (bound at /var/lib/containerd),
#                                          machines/{nfs,w4}/disk.img, pid files, console logs, registry.yml
#   .tools/lab/                            lab SSH key, hostkeys.json, known_hosts (removed by `down`)
#   $K8S_HA_CACHE/artifacts/www            served on http://10.213.0.1:8080/ (owned by the artifacts
#   $K8S_HA_CACHE/artifacts/registry       command; the registry on 10.213.0.1:5000 stores there, so
#                                          pushed images survive `down`; `down` leaves both alone)
# K8S_HA_CACHE defaults to /var/cache/k8s-ha. K8S_HA_LAB_MIRROR overrides the Debian mirror.
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
HELPERS=$SCRIPT_DIR/lab
CACHE=${K8S_HA_CACHE:-/var/cache/k8s-ha}
LAB_CACHE=$CACHE/lab
RUN_DIR=$LAB_CACHE/run
TOOLS_LAB=$REPO_DIR/.tools/lab
WWW_DIR=$CACHE/artifacts/www
REGISTRY_DIR=$CACHE/artifacts/registry

BRIDGE=k8sha0
SUBNET=10.213.0.0/24
HOST_ADDR=10.213.0.1
PREFIX=24
HTTP_PORT=8080
REGISTRY_PORT=5000
NAT_COMMENT="k8s-ha-lab"
APT_PROXY_PORT=3142
FORWARD_TABLE=k8s_ha_lab
SUITE=bookworm
MIRROR=${K8S_HA_LAB_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${K8S_HA_LAB_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# What makes a host usable; the program installs the cluster's own packages itself, through the lab
# host's package proxy (ensure_apt_proxy).
# nftables is in every standard Debian 12 install (priority important), though not in minbase; the
# firewall step installs it where it is missing (15 s per nspawn machine, 85 s per emulated VM).
BASE_PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,iproute2,iputils-ping,ca-certificates,curl,iptables,nftables,kmod,procps,sudo,netbase,less
# The VMs' root adds a kernel (with its modules: nfsd, the NFS client, br_netfilter) and the NFS
# server (which brings nfs-common, the client tools), and chrony, which a real
# host keeps its clock with (the nspawn machines share this machine's clock). Installing chrony under
# TCG emulation took 66 s of the first `up`, on the critical path of the whole cluster.
# The worker VM w4 runs under emulation, where every apt install costs a minute: the packages the
# runtime step would install (conntrack, ethtool, socat) come with the image, and the program finds
# them there and leaves them alone (the nspawn workers still get them through the program's apt).
NFS_PACKAGES="linux-image-amd64 nfs-kernel-server udev chrony conntrack ethtool socat nftables"
DEPS_PACKAGES=(systemd-container debootstrap iptables nftables apt-cacher-ng iproute2 qemu-system-x86 docker-registry busybox-static openssh-client e2fsprogs util-linux procps faketime)

# The machines of the dev stack (Pulumi.dev.yaml), with their addresses and the VIP as the program
# reads them (scripts/plan.sh), and w3, a spare: the dev stack leaves it out; the e2e suite's
# add-worker drill adds it to the stack.
MACHINES=(lb1 lb2 cp1 cp2 cp3 w1 w2 w3 w4 mirror nfs)
declare -A ADDR=([w3]=10.213.0.33)
# shellcheck source=scripts/plan.sh
source "$REPO_DIR/scripts/plan.sh"
if ! load_plan "$REPO_DIR/Pulumi.dev.yaml" >/dev/null; then
  printf 'lab: error: the program cannot read Pulumi.dev.yaml (above); the lab takes its machines from it\n' >&2
  exit 1
fi
while read -r name addr; do ADDR[$name]=$addr; done < <(plan_lines 'p.hosts.map((h) => h.name + " " + h.address)')
VIP=$(plan_lines 'p.vip')
for name in "${MACHINES[@]}"; do
  [[ -n ${ADDR[$name]:-} ]] || { printf 'lab: error: %s is a lab machine but no host of Pulumi.dev.yaml\n' "$name" >&2; exit 1; }
done
unset name addr
# lb: keepalived's capabilities. node: what containerd and kubelet need (see scripts/lab/node-prep.sh);
# the control-plane hosts and the mirror get it too, so they can run containers as well. vm: qemu.
declare -A PROFILE=([lb1]=lb [lb2]=lb [cp1]=node [cp2]=node [cp3]=node [w1]=node [w2]=node [w3]=node [w4]=vm [mirror]=node [nfs]=vm)
# The VMs: memory (MiB) and disk size. w4 runs containerd, the kubelet and pods under emulation.
declare -A VM_MEMORY=([nfs]=1024 [w4]=2048)
declare -A VM_DISK=([nfs]=4G [w4]=8G)
# A VM's tap device and MAC address (its address's last octet, written as hex digits).
vm_tap() { printf 'k8sha0-%s\n' "$1"; }
vm_mac() { printf '52:54:00:d5:00:%s\n' "${ADDR[$1]##*.}"; }
# A throwaway node machine outside the topology, made and removed by `check --kubelet`.
PROBE=probe
ADDR[$PROBE]=10.213.0.39
PROFILE[$PROBE]=node

SSH_KEY=$TOOLS_LAB/id_ed25519
KNOWN_HOSTS=$TOOLS_LAB/known_hosts
HOSTKEYS_JSON=$TOOLS_LAB/hostkeys.json
CGROUP_RECORD=$RUN_DIR/cgroups
SSH_OPTS=(-i "$SSH_KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o StrictHostKeyChecking=yes
  -o BatchMode=yes -o ConnectTimeout=3 -o LogLevel=ERROR -o ServerAliveInterval=5 -o ServerAliveCountMax=3)

# shellcheck source=scripts/lab/cgroups.sh
source "$HELPERS/cgroups.sh"

say() { printf 'lab: %s\n' "$*"; }
say_for() { local name=$1; shift; printf '%s: %s\n' "$name" "$*"; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }
report_failure() { printf 'lab: error: command failed (exit %s) at %s line %s: %s\n' "$1" "${BASH_SOURCE[1]##*/}" "$2" "$3" >&2; }
trap 'report_failure $? $LINENO "$BASH_COMMAND"' ERR

now() { date +%s.%N; }
elapsed_since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

host_runs_systemd() { [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]]; }

# ---------------------------------------------------------------------------------------------
# Preconditions

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (bridges, nspawn, iptables): sudo bash scripts/lab.sh ${*:-up}"
}

# Prints "package" for every missing tool.
missing_packages() {
  local -A tool_package=([systemd-nspawn]=systemd-container [debootstrap]=debootstrap [iptables]=iptables
    [ip]=iproute2 [qemu-system-x86_64]=qemu-system-x86 [docker-registry]=docker-registry [busybox]=busybox-static
    [ssh]=openssh-client [ssh-keygen]=openssh-client [mkfs.ext4]=e2fsprogs [unshare]=util-linux
    [setsid]=util-linux [flock]=util-linux [findmnt]=util-linux [pgrep]=procps [faketime]=faketime
    [nft]=nftables [apt-cacher-ng]=apt-cacher-ng)
  local tool
  for tool in "${!tool_package[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || printf '%s\n' "${tool_package[$tool]}"
  done | sort -u
}

install_deps() {
  require_root deps
  say "installing host tools: ${DEPS_PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Installing must not start Debian's own services (apt-cacher-ng, docker-registry) on every
  # address: the lab runs its own, on the bridge's address only.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    made_policy=1
  fi
  if ! apt-get install -y -qq "${DEPS_PACKAGES[@]}" >/dev/null; then
    if ((made_policy)); then rm -f "$policy"; fi
    die "apt-get install ${DEPS_PACKAGES[*]} failed"
  fi
  if ((made_policy)); then rm -f "$policy"; fi
  if host_runs_systemd && systemctl is-enabled --quiet docker-registry 2>/dev/null; then
    # Debian's own registry service listens on *:5000, where the lab's listens on 10.213.0.1:5000.
    say "disabling Debian's docker-registry service (the lab runs its own on $HOST_ADDR:$REGISTRY_PORT)"
    systemctl disable --now docker-registry
  fi
}

require_tools() {
  local auto=$1 missing
  missing=$(missing_packages)
  [[ -z $missing ]] && return 0
  if ((auto)); then
    say "missing host tools from: $(echo "$missing" | tr '\n' ' ')"
    install_deps
    missing=$(missing_packages)
    [[ -z $missing ]] && return 0
  fi
  die "missing host tools; get them with: apt-get install -y $(echo "$missing" | tr '\n' ' ')(or: bash scripts/lab.sh deps; or: lab.sh up --install-deps)"
}

# One lab command at a time (the lock is on this script itself: it leaves no file behind).
take_lock() {
  exec 9<"${BASH_SOURCE[0]}"
  flock -w 600 9 || die "another lab.sh is running"
}

# ---------------------------------------------------------------------------------------------
# Host side: key, bridge, NAT, HTTP server, registry

ensure_lab_key() {
  mkdir -p "$TOOLS_LAB"
  chmod 700 "$TOOLS_LAB"
  if [[ ! -f $SSH_KEY ]]; then
    ssh-keygen -q -t ed25519 -N '' -C k8s-ha-lab -f "$SSH_KEY"
    say "generated lab SSH key $SSH_KEY"
  fi
}

ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    say "created bridge $BRIDGE"
  fi
  if ! ip -4 addr show dev "$BRIDGE" | grep -q "inet $HOST_ADDR/$PREFIX "; then
    ip addr add "$HOST_ADDR/$PREFIX" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
}

nat_rule() { printf '%s\n' POSTROUTING -s "$SUBNET" '!' -o "$BRIDGE" -m comment --comment "$NAT_COMMENT" -j MASQUERADE; }

# The lab host routes nothing for its machines: traffic between machines is bridged on $BRIDGE, and
# their only way out is the package proxy on the lab host itself (ensure_apt_proxy), which asks
# Debian's archive and nothing else. The forward hook's policy is drop (this host forwards nothing
# else); what machines send elsewhere is counted (`lab.sh status`, the e2e report). Labs made
# before this kept a MASQUERADE rule: it goes.
forward_ruleset() {
  cat <<EOF
table inet $FORWARD_TABLE {
  counter dropped_from_lab {
    comment "packets lab machines sent to addresses outside the lab"
  }
  counter dropped_to_lab {
    comment "packets from outside the lab to lab machines"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    iifname "$BRIDGE" oifname "$BRIDGE" accept comment "between lab machines (bridged)"
    iifname "$BRIDGE" counter name dropped_from_lab drop
    oifname "$BRIDGE" counter name dropped_to_lab drop
  }
}
EOF
}

ensure_no_forwarding() {
  local rule sum
  mapfile -t rule < <(nat_rule)
  while iptables -t nat -C "${rule[@]}" 2>/dev/null; do
    iptables -t nat -D "${rule[@]}"
    say "removed the NAT rule of an older lab: iptables -t nat ${rule[*]}"
  done
  sum=$(forward_ruleset | sha256sum | cut -c1-16)
  if nft list table inet "$FORWARD_TABLE" >/dev/null 2>&1; then
    # Loaded and unchanged: keep it, with its counters.
    [[ -f $RUN_DIR/forward.sha && $(<"$RUN_DIR/forward.sha") == "$sum" ]] && return 0
    nft delete table inet "$FORWARD_TABLE"
  fi
  forward_ruleset | nft -f - || die "could not load the lab's forwarding rules (nft table inet $FORWARD_TABLE)"
  printf '%s\n' "$sum" >"$RUN_DIR/forward.sha"
  say "no forwarding for $SUBNET: nft table inet $FORWARD_TABLE (policy drop, drops counted)"
}

# "dropped from the lab: P packets (B bytes); to the lab: ..." from the table's counters.
forward_drop_counts() {
  local from to
  from=$(nft list counter inet "$FORWARD_TABLE" dropped_from_lab | grep -o 'packets [0-9]* bytes [0-9]*')
  to=$(nft list counter inet "$FORWARD_TABLE" dropped_to_lab | grep -o 'packets [0-9]* bytes [0-9]*')
  printf 'dropped from the lab: %s; to the lab: %s\n' "$from" "$to"
}

# forwarding: whether the lab host forwards nothing for its machines (the table, its drop policy,
# its one accept rule for bridged lab traffic, no NAT rule for the subnet), with the drop counters;
# exits 1 naming each problem (scripts/e2e.sh records it).
lab_forwarding() {
  local table problems=()
  require_root forwarding
  table=$(nft list table inet "$FORWARD_TABLE" 2>&1) || problems+=("no nft table inet $FORWARD_TABLE")
  [[ $table == *"hook forward priority filter; policy drop;"* ]] || problems+=("the forward chain's policy is not drop")
  [[ $(grep -c accept <<<"$table") == 1 && $table == *"iifname \"$BRIDGE\" oifname \"$BRIDGE\" accept"* ]] ||
    problems+=("the forward chain accepts more than bridged lab traffic")
  if iptables -t nat -S POSTROUTING 2>/dev/null | grep -qE -- "-s ${SUBNET//./\\.} .*MASQUERADE"; then problems+=("a NAT rule for $SUBNET"); fi
  if ((${#problems[@]})); then
    printf 'lab: forwarding: %s\n' "${problems[@]}" >&2
    exit 1
  fi
  say "forwarding: none (nft table inet $FORWARD_TABLE: policy drop, bridged lab traffic only; no NAT rule); $(forward_drop_counts)"
}

remove_forwarding_rules() {
  local rule
  mapfile -t rule < <(nat_rule)
  while iptables -t nat -C "${rule[@]}" 2>/dev/null; do iptables -t nat -D "${rule[@]}"; done
  if nft list table inet "$FORWARD_TABLE" >/dev/null 2>&1; then nft delete table inet "$FORWARD_TABLE"; fi
}

# A URL's host and path, as apt-cacher-ng's remapping rules name a repository.
url_prefix() {
  local u=${1#*://}
  printf '%s\n' "${u%/}"
}

# apt-cacher-ng, serving Debian's archive and its security archive to the machines at
# http://$HOST_ADDR:$APT_PROXY_PORT/: those two repositories only (ForceManaged), no CONNECT
# tunnels, no redirects followed elsewhere. Its cache survives `down` ($LAB_CACHE/apt-cache).
write_apt_proxy_config() {
  cat <<EOF
# k8s-ha lab: the machines' only way to packages (scripts/lab.sh ensure_apt_proxy).
CacheDir: $LAB_CACHE/apt-cache
LogDir: $RUN_DIR/apt-proxy-log
SupportDir: /usr/lib/apt-cacher-ng
Port: $APT_PROXY_PORT
BindAddress: $HOST_ADDR
SocketPath: $RUN_DIR/apt-proxy.socket
ForeGround: 1
Remap-debrep: $(url_prefix "$MIRROR") ; $(url_prefix "$MIRROR")
Remap-secdeb: $(url_prefix "$SECURITY_MIRROR") ; $(url_prefix "$SECURITY_MIRROR")
ForceManaged: 1
PassThroughPattern: ^\$
RedirMax: 0
ExThreshold: 4
EOF
}

ensure_apt_proxy() {
  local conf=$RUN_DIR/apt-proxy/acng.conf before="" pid
  mkdir -p "$RUN_DIR/apt-proxy" "$RUN_DIR/apt-proxy-log" "$LAB_CACHE/apt-cache"
  [[ -f $conf ]] && before=$(<"$conf")
  write_if_changed "$conf" "$(write_apt_proxy_config)"
  if pid=$(pid_of "$RUN_DIR/apt-proxy.pid" "apt-cacher-ng -c $RUN_DIR/apt-proxy"); then
    [[ $before == "$(<"$conf")" ]] && return 0
    stop_processes "package proxy" "$pid"
  fi
  start_daemon "$RUN_DIR/apt-proxy.pid" "$RUN_DIR/apt-proxy.log" apt-cacher-ng -c "$RUN_DIR/apt-proxy"
  wait_for_port "$APT_PROXY_PORT" "the package proxy (apt-cacher-ng)"
  say "package proxy on http://$HOST_ADDR:$APT_PROXY_PORT/ for $(url_prefix "$MIRROR") and $(url_prefix "$SECURITY_MIRROR") only"
}

# What a machine's apt is told: every download through the lab host's proxy.
apt_proxy_conf() { printf 'Acquire::http::Proxy "http://%s:%s/";\n' "$HOST_ADDR" "$APT_PROXY_PORT"; }
apt_proxy_option() { printf -- '-o Acquire::http::Proxy=http://%s:%s/\n' "$HOST_ADDR" "$APT_PROXY_PORT"; }

# raise_sysctl NAME MIN: raises a kernel setting of this machine to at least MIN, remembering the old
# value for `down`. The machines share this kernel: every kubelet, containerd and systemd in them
# takes inotify instances from the same per-user budget (128 by default, too few for ten machines).
raise_sysctl() {
  local name=$1 min=$2 file current
  file=/proc/sys/${name//.//}
  current=$(cat "$file")
  ((current >= min)) && return 0
  mkdir -p "$RUN_DIR/sysctl.before"
  [[ -f $RUN_DIR/sysctl.before/$name ]] || printf '%s\n' "$current" >"$RUN_DIR/sysctl.before/$name"
  echo "$min" >"$file"
  say "raised $name from $current to $min"
}

restore_sysctls() {
  local f
  for f in "$RUN_DIR"/sysctl.before/*; do
    [[ -f $f ]] || continue
    cat "$f" >"/proc/sys/$(basename "$f" | tr . /)"
  done
}

# pid_of FILE PATTERN: the pid in FILE when that process runs and its command line matches PATTERN.
pid_of() {
  local file=$1 pattern=$2 pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern" || return 1
  printf '%s\n' "$pid"
}

# Start "$@" in the background in its own session, logging to LOG, recording its pid in PIDFILE.
start_daemon() {
  local pidfile=$1 log=$2; shift 2
  setsid "$@" >>"$log" 2>&1 </dev/null 9<&- &
  echo $! >"$pidfile"
  disown $!
}

ensure_http_server() {
  mkdir -p "$WWW_DIR"
  pid_of "$RUN_DIR/httpd.pid" "httpd -f -p $HOST_ADDR:$HTTP_PORT" >/dev/null && return 0
  start_daemon "$RUN_DIR/httpd.pid" "$RUN_DIR/httpd.log" busybox httpd -f -p "$HOST_ADDR:$HTTP_PORT" -h "$WWW_DIR"
  say "HTTP file server on http://$HOST_ADDR:$HTTP_PORT/ serving $WWW_DIR"
}

write_registry_config() {
  cat <<EOF
# k8s-ha lab: upstream registry stand-in (docs/CONVENTIONS.md). Storage belongs to the artifacts
# command and survives lab.sh down.
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $HOST_ADDR:$REGISTRY_PORT
health:
  storagedriver:
    enabled: false
EOF
}

ensure_registry() {
  mkdir -p "$REGISTRY_DIR"
  write_if_changed "$RUN_DIR/registry.yml" "$(write_registry_config)"
  pid_of "$RUN_DIR/registry.pid" "docker-registry serve $RUN_DIR/registry.yml" >/dev/null && return 0
  start_daemon "$RUN_DIR/registry.pid" "$RUN_DIR/registry.log" docker-registry serve "$RUN_DIR/registry.yml"
  say "registry on http://$HOST_ADDR:$REGISTRY_PORT/ storing in $REGISTRY_DIR"
}

# write_if_changed FILE CONTENT [MODE]: rewrite FILE only when CONTENT differs.
write_if_changed() {
  local file=$1 content=$2 mode=${3:-}
  if [[ ! -f $file || $(<"$file") != "$content" ]]; then
    printf '%s\n' "$content" >"$file"
  fi
  if [[ -n $mode ]]; then chmod "$mode" "$file"; fi
}

wait_for_port() {
  local port=$1 what=$2 deadline=$((SECONDS + 15))
  until (exec 3<>"/dev/tcp/$HOST_ADDR/$port") 2>/dev/null; do
    ((SECONDS < deadline)) || die "$what did not start listening on $HOST_ADDR:$port (see $RUN_DIR/*.log)"
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------
# Base images (cached, keyed by a hash of their recipe)

# Applied once to the debootstrapped root shared by every nspawn machine (and the NFS VM).
customize_base_root() {
  local root=$1
  cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
  chroot "$root" systemctl enable --quiet systemd-networkd.service ssh.service
  # apt's timers would hold the dpkg lock at random times while the program installs packages.
  chroot "$root" systemctl mask --quiet apt-daily.timer apt-daily-upgrade.timer
  # Per-machine identity is written per machine (host key, machine-id).
  rm -f "$root"/etc/ssh/ssh_host_*
  printf 'HostKey /etc/ssh/ssh_host_ed25519_key\n' >"$root/etc/ssh/sshd_config.d/k8s-ha-lab.conf"
  : >"$root/etc/machine-id"
  ln -sf /etc/machine-id "$root/var/lib/dbus/machine-id"
  install -m 0755 "$HELPERS/node-prep.sh" "$root/usr/local/sbin/k8s-ha-lab-node-prep"
  install -m 0644 "$HELPERS/k8s-ha-lab-node-prep.service" "$root/etc/systemd/system/k8s-ha-lab-node-prep.service"
  chroot "$root" apt-get clean
}

base_hash() {
  { printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR" "$BASE_PACKAGES"
    declare -f customize_base_root
    cat "$HELPERS/node-prep.sh" "$HELPERS/k8s-ha-lab-node-prep.service"; } | sha256sum | cut -c1-12
}

ensure_base_root() {
  local dir=$LAB_CACHE/base-$1 start
  [[ -f $dir/ready ]] && return 0
  start=$(now)
  say "building the base root filesystem (debootstrap $SUITE, cached in $dir)"
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp"
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$dir.tmp/rootfs" "$MIRROR" \
    >"$dir.tmp/debootstrap.log" 2>&1; then
    tail -n 20 "$dir.tmp/debootstrap.log" >&2
    die "debootstrap failed (log: $dir.tmp/debootstrap.log)"
  fi
  customize_base_root "$dir.tmp/rootfs"
  touch "$dir.tmp/ready"
  mv "$dir.tmp" "$dir"
  say "base root filesystem ready in $(elapsed_since "$start") s"
}

# Run a command (systemd-nspawn) in a cgroup of its own, removed afterwards: nspawn creates
# "payload" and "supervisor" cgroups below the one it starts in (see scripts/lab/cgroups.sh).
run_in_own_cgroup() {
  local name=$1 rc=0
  shift
  if host_runs_systemd; then
    systemd-run --quiet --scope "$@" || rc=$?
  else
    # shellcheck disable=SC2016
    bash -c 'source "$1"; lab_cgroup_join "$2" "$$" "$3"; shift 3; exec "$@"' _ \
      "$HELPERS/cgroups.sh" "$name" "$CGROUP_RECORD" "$@" || rc=$?
    lab_cgroup_remove "$CGROUP_RECORD" "$name"
  fi
  return "$rc"
}

# Applied once to a copy of the base root for the NFS VM: a Debian kernel with its modules
# (nfsd is a module) and the NFS server. Runs apt in an nspawn container on the host's network.
customize_nfs_root() {
  local root=$1
  run_in_own_cgroup nfs-build systemd-nspawn -q -D "$root" --register=no --keep-unit --resolv-conf=copy-host --timezone=off \
    --link-journal=no --pipe -E DEBIAN_FRONTEND=noninteractive \
    bash -c "apt-get $(apt_proxy_option) update -qq && apt-get $(apt_proxy_option) install -y -qq --no-install-recommends $NFS_PACKAGES && apt-get clean" \
    >>"$root/../build.log" 2>&1
  # Exports are the program's business (role nfs); the server starts once there are some.
  chroot "$root" systemctl disable --quiet nfs-server.service 2>/dev/null || true
}

nfs_hash() {
  { printf '%s\n' "$1" "$NFS_PACKAGES"; declare -f customize_nfs_root; } | sha256sum | cut -c1-12
}

ensure_nfs_root() {
  local base=$LAB_CACHE/base-$1/rootfs dir=$LAB_CACHE/nfs-$2 start kver
  [[ -f $dir/ready ]] && return 0
  start=$(now)
  say_for nfs "building the VM root filesystem with kernel and NFS server (cached in $dir)"
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp"
  cp -a "$base" "$dir.tmp/rootfs"
  if ! customize_nfs_root "$dir.tmp/rootfs"; then
    tail -n 20 "$dir.tmp/build.log" >&2
    die "building the NFS VM root failed (log: $dir.tmp/build.log)"
  fi
  kver=$(ls "$dir.tmp/rootfs/lib/modules")
  cp "$dir.tmp/rootfs/boot/vmlinuz-$kver" "$dir.tmp/vmlinuz"
  cp "$dir.tmp/rootfs/boot/initrd.img-$kver" "$dir.tmp/initrd.img"
  echo "$kver" >"$dir.tmp/kernel-version"
  touch "$dir.tmp/ready"
  mv "$dir.tmp" "$dir"
  say_for nfs "VM root filesystem ready (kernel $kver) in $(elapsed_since "$start") s"
}

# ---------------------------------------------------------------------------------------------
# Machines

lab_hosts_file() {
  local name
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n'
  printf '%s\t%s\n' "$HOST_ADDR" lab-host
  for name in "${MACHINES[@]}"; do printf '%s\t%s\n' "${ADDR[$name]}" "$name"; done
}

# Identity and network of one machine, written into its root before the first boot.
configure_machine_root() {
  local name=$1 root=$2 iface=$3
  echo "$name" >"$root/etc/hostname"
  lab_hosts_file >"$root/etc/hosts"
  tr -d '-' </proc/sys/kernel/random/uuid >"$root/etc/machine-id"
  # Sorts before 80-container-host0.network, whose DHCP would otherwise win.
  cat >"$root/etc/systemd/network/10-k8s-ha-lab.network" <<EOF
[Match]
Name=$iface

[Network]
Address=${ADDR[$name]}/$PREFIX
Gateway=$HOST_ADDR
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
  rm -f "$root"/etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$root/etc/ssh/ssh_host_ed25519_key"
  mkdir -p "$RUN_DIR/hostkeys"
  cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$RUN_DIR/hostkeys/$name.pub"
  if [[ ${PROFILE[$name]} == node ]]; then
    mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
    ln -sf /etc/systemd/system/k8s-ha-lab-node-prep.service \
      "$root/etc/systemd/system/sysinit.target.wants/k8s-ha-lab-node-prep.service"
  fi
  refresh_machine_root "$root"
}

# What may change between runs (the lab key, the name server, the package proxy); cheap and idempotent.
refresh_machine_root() {
  local root=$1
  mkdir -p "$root/root/.ssh"
  chmod 0700 "$root/root/.ssh"
  write_if_changed "$root/root/.ssh/authorized_keys" "$(<"$SSH_KEY.pub")" 0600
  rm -f "$root/etc/resolv.conf.tmp"
  if [[ -L $root/etc/resolv.conf ]]; then rm -f "$root/etc/resolv.conf"; fi
  # No name server beyond the lab: nothing listens on the lab host's port 53, so a lookup of an
  # outside name is refused at once instead of waiting on dropped packets.
  write_if_changed "$root/etc/resolv.conf" "nameserver $HOST_ADDR"
  write_if_changed "$root/etc/apt/apt.conf.d/01k8s-ha-lab-proxy" "$(apt_proxy_conf)" 0644
}

machine_dir() { printf '%s\n' "$RUN_DIR/machines/$1"; }

# Machine roots are overlays on the cached base (instant, and only a machine's changes use disk):
# lower = base root (read-only), upper/work = the machine's own files.
mount_machine_root() {
  local name=$1 dir=$2
  mountpoint -q "$dir/rootfs" && return 0
  mount -t overlay "k8s-ha-lab-$name" \
    -o "lowerdir=$(<"$dir/lower"),upperdir=$dir/upper,workdir=$dir/work" "$dir/rootfs"
}

# Unmount every mount below DIR (machine roots); true when none is left.
unmount_below() {
  local dir=$1 target
  while read -r target; do
    umount "$target" 2>/dev/null || umount --lazy "$target" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | { grep -F "$dir/" || true; } | sort -r)
  ! findmnt -rn -o TARGET | grep -qF "$dir/"
}

# Remove a machine's directory, never through a mount.
remove_machine_dir() {
  local dir=$1
  [[ -e $dir ]] || return 0
  unmount_below "$dir" || die "could not unmount what is below $dir"
  rm -rf --one-file-system "$dir"
}

# Whether a machine's root exists and its base is still there (machines keep the base they were
# made from, even when a changed recipe makes a new one).
machine_root_ready() {
  local dir
  dir=$(machine_dir "$1")
  [[ -f $dir/ready && -f $dir/lower && -d $(<"$dir/lower") ]]
}

# Whether VM NAME's disk exists and the kernel it was made for is still cached.
vm_disk_ready() {
  local dir
  dir=$(machine_dir "$1")
  [[ -f $dir/ready && -f $dir/kernel-dir && -f $(<"$dir/kernel-dir")/vmlinuz ]]
}

ensure_machine_root() {
  local name=$1 base=$2 dir
  dir=$(machine_dir "$name")
  if machine_root_ready "$name"; then
    mount_machine_root "$name" "$dir"
    refresh_machine_root "$dir/rootfs"
    return 0
  fi
  remove_machine_dir "$dir"
  mkdir -p "$dir/upper" "$dir/work" "$dir/rootfs" "$dir/containerd"
  printf '%s\n' "$base" >"$dir/lower"
  mount_machine_root "$name" "$dir"
  configure_machine_root "$name" "$dir/rootfs" host0
  touch "$dir/ready"
}

nspawn_args() {
  local name=$1 root=$2
  local args=(--boot --directory="$root" --machine="$name" --network-bridge="$BRIDGE" --register=no
    --keep-unit --console=passive --resolv-conf=off --timezone=off --link-journal=no)
  case ${PROFILE[$name]} in
    lb) args+=("--capability=CAP_NET_ADMIN,CAP_NET_RAW") ;;
    # /var/lib/containerd is a plain directory: containerd's overlayfs snapshotter cannot put
    # its upper layers on the machine's overlay root.
    node) args+=(--capability=all --system-call-filter=@known --bind=/dev/kmsg
      "--bind=$(machine_dir "$name")/containerd:/var/lib/containerd") ;;
  esac
  printf '%s\n' "${args[@]}"
}

unit_name() { printf 'k8s-ha-lab-%s\n' "$1"; }

nspawn_pid() {
  local name=$1
  if host_runs_systemd; then
    systemctl show -p MainPID --value "$(unit_name "$name")" 2>/dev/null | grep -v '^0$'
  else
    pid_of "$(machine_dir "$name")/pid" "systemd-nspawn.*--machine=$name "
  fi
}

# A machine whose systemd-nspawn died (killed, crashed) may still have its processes and its veth:
# remove them before starting it again.
kill_machine_leftovers() {
  local name=$1 pids deadline
  mapfile -t pids < <(lab_cgroup_pids "$CGROUP_RECORD" "$name")
  if ((${#pids[@]})); then
    say_for "$name" "killing the ${#pids[@]} processes left in its cgroups"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while [[ -n $(lab_cgroup_pids "$CGROUP_RECORD" "$name") ]] && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  if ip link show "vb-$name" >/dev/null 2>&1; then ip link del "vb-$name"; fi
  lab_cgroup_remove "$CGROUP_RECORD" "$name"
}

start_nspawn_machine() {
  local name=$1 dir args
  dir=$(machine_dir "$name")
  mapfile -t args < <(nspawn_args "$name" "$dir/rootfs")
  if host_runs_systemd; then
    # Not exercised here (this kind of machine has no systemd as PID 1): a transient service per
    # machine, with a delegated cgroup and the device access the node profile needs.
    systemctl reset-failed "$(unit_name "$name")" 2>/dev/null || true
    systemd-run --quiet --unit="$(unit_name "$name")" --property=Delegate=yes --property=KillMode=mixed \
      --property=Type=notify --property=NotifyAccess=all --property='DeviceAllow=char-* rwm' \
      --property=DeviceAllow=/dev/kmsg --property=DevicePolicy=auto \
      systemd-nspawn "${args[@]}" 9<&-
  else
    kill_machine_leftovers "$name"
    rm -f "$dir/pid"
    setsid "$HELPERS/nspawn-machine.sh" "$name" "$dir/pid" "$CGROUP_RECORD" -- "${args[@]}" \
      >>"$dir/console.log" 2>&1 </dev/null 9<&- &
    disown $!
    local deadline=$((SECONDS + 10))
    until [[ -s $dir/pid ]] && nspawn_pid "$name" >/dev/null; do
      ((SECONDS < deadline)) || die "$name: systemd-nspawn did not start (see $dir/console.log)"
      sleep 0.1
    done
  fi
  say_for "$name" "started (nspawn, profile ${PROFILE[$name]}, ${ADDR[$name]})"
}

# A running machine whose bridge was recreated has its host-side link detached: put it back.
attach_link() {
  local link=$1
  ip link show "$link" >/dev/null 2>&1 || return 0
  if [[ $(basename "$(readlink -f "/sys/class/net/$link/master" 2>/dev/null)") != "$BRIDGE" ]]; then
    ip link set "$link" master "$BRIDGE"
    ip link set "$link" up
  fi
}

ensure_nspawn_machine() {
  local name=$1 base=$2
  ensure_machine_root "$name" "$base"
  if nspawn_pid "$name" >/dev/null; then
    attach_link "vb-$name"
    return 0
  fi
  start_nspawn_machine "$name"
}

vm_pid() { pid_of "$(machine_dir "$1")/qemu.pid" "qemu-system-x86_64 -name k8s-ha-lab-$1 "; }

# VM NAME's disk: a copy of the cached root with this machine's identity, as an ext4 image.
ensure_vm_disk() {
  local name=$1 vmroot=$2 dir
  dir=$(machine_dir "$name")
  vm_disk_ready "$name" && return 0
  remove_machine_dir "$dir"
  mkdir -p "$dir/upper" "$dir/work" "$dir/rootfs"
  printf '%s\n' "$vmroot/rootfs" >"$dir/lower"
  # The cached root plus this machine's identity, through an overlay, into an ext4 image.
  mount_machine_root "$name" "$dir"
  configure_machine_root "$name" "$dir/rootfs" eth0
  printf 'LABEL=k8s-ha-%s / ext4 rw,errors=remount-ro 0 1\n' "$name" >"$dir/rootfs/etc/fstab"
  mkfs.ext4 -q -F -L "k8s-ha-$name" -d "$dir/rootfs" "$dir/disk.img" "${VM_DISK[$name]}" >/dev/null
  unmount_below "$dir" || die "$name: could not unmount $dir/rootfs"
  rm -rf "$dir/upper" "$dir/work" "$dir/rootfs" "$dir/lower"
  printf '%s\n' "$vmroot" >"$dir/kernel-dir"
  touch "$dir/ready"
}

ensure_tap() {
  local tap
  tap=$(vm_tap "$1")
  if ! ip link show "$tap" >/dev/null 2>&1; then
    ip tuntap add dev "$tap" mode tap
  fi
  attach_link "$tap"
  ip link set "$tap" up
}

# start_vm NAME: boots VM NAME from its disk unless it runs.
start_vm() {
  local name=$1 dir vmroot
  dir=$(machine_dir "$name")
  ensure_tap "$name"
  if vm_pid "$name" >/dev/null; then return 0; fi
  vmroot=$(<"$dir/kernel-dir")
  rm -f "$dir/qemu.pid"
  qemu-system-x86_64 -name "k8s-ha-lab-$name" -machine pc,accel=tcg -cpu max -smp 2 -m "${VM_MEMORY[$name]}" \
    -nodefaults -no-user-config -display none -serial "file:$dir/console.log" \
    -kernel "$vmroot/vmlinuz" -initrd "$vmroot/initrd.img" \
    -append "root=LABEL=k8s-ha-$name rw console=ttyS0 net.ifnames=0 quiet" \
    -drive "file=$dir/disk.img,format=raw,if=virtio" \
    -netdev "tap,id=net0,ifname=$(vm_tap "$name"),script=no,downscript=no" \
    -device "virtio-net-pci,netdev=net0,mac=$(vm_mac "$name"),romfile=" \
    -device virtio-rng-pci \
    -daemonize -pidfile "$dir/qemu.pid" >>"$dir/qemu.log" 2>&1 9<&- ||
    die "$name: qemu did not start (see $dir/qemu.log)"
  say_for "$name" "started (qemu TCG VM, ${ADDR[$name]})"
}

# ensure_vms BASE-HASH VM-HASH: the VMs' shared root (built once, cached), each VM's disk, and the
# VMs running.
ensure_vms() {
  local base_hash=$1 vm_hash=$2 name
  for name in "${MACHINES[@]}"; do
    [[ ${PROFILE[$name]} == vm ]] || continue
    if ! vm_pid "$name" >/dev/null && ! vm_disk_ready "$name"; then
      ensure_nfs_root "$base_hash" "$vm_hash"
      ensure_vm_disk "$name" "$LAB_CACHE/nfs-$vm_hash"
    fi
    start_vm "$name"
  done
}

# hostkeys.json and known_hosts from the machines' public host keys.
write_host_key_files() {
  local name key json="{" sep="" known=""
  for name in "${MACHINES[@]}"; do
    [[ -f $RUN_DIR/hostkeys/$name.pub ]] || continue
    key=$(cut -d' ' -f1-2 "$RUN_DIR/hostkeys/$name.pub")
    json+="$sep"$'\n'"  \"$name\": \"$key\""
    sep=","
    known+="$name,${ADDR[$name]} $key"$'\n'
  done
  json+=$'\n'"}"
  write_if_changed "$HOSTKEYS_JSON" "$json"
  write_if_changed "$KNOWN_HOSTS" "${known%$'\n'}"
}

# shellcheck disable=SC2029 # the command is meant to be expanded here and run there
ssh_machine() {
  local name=$1; shift
  [[ -n ${ADDR[$name]:-} ]] || die "no machine named '$name' (machines: ${MACHINES[*]})"
  ssh "${SSH_OPTS[@]}" "root@${ADDR[$name]}" "$@"
}

wait_for_ssh() {
  local timeout=$1 start=$2 name pending=("${MACHINES[@]}") still deadline probe=$RUN_DIR/ssh-probe
  deadline=$((SECONDS + timeout))
  mkdir -p "$probe"
  while ((${#pending[@]})); do
    # All pending machines at once; each answer leaves a file.
    local probes=()
    for name in "${pending[@]}"; do
      { ssh_machine "$name" true 2>/dev/null && touch "$probe/$name"; } &
      probes+=($!)
    done
    wait "${probes[@]}" || true
    still=()
    for name in "${pending[@]}"; do
      if [[ -f $probe/$name ]]; then
        say_for "$name" "SSH ok at ${ADDR[$name]} ($(elapsed_since "$start") s)"
      else
        still+=("$name")
      fi
    done
    pending=("${still[@]}")
    ((${#pending[@]})) || break
    ((SECONDS < deadline)) || { rm -rf "$probe"; die "no SSH within $timeout s from: ${pending[*]} (logs: $RUN_DIR/machines/*/console.log)"; }
    sleep 1
  done
  rm -rf "$probe"
}

# ---------------------------------------------------------------------------------------------
# Verbs

lab_up() {
  local auto_deps=0 arg start base nfs nfs_job
  for arg in "$@"; do
    case $arg in
      --install-deps) auto_deps=1 ;;
      *) die "unknown option for up: $arg" ;;
    esac
  done
  [[ ${CI:-} == true || ${K8S_HA_LAB_INSTALL_DEPS:-} == 1 ]] && auto_deps=1
  require_root up
  require_tools "$auto_deps"
  take_lock
  start=$(now)
  mkdir -p "$RUN_DIR/machines"
  [[ -d /run/systemd/nspawn || -f $RUN_DIR/nspawn-runtime-created ]] || touch "$RUN_DIR/nspawn-runtime-created"
  ensure_lab_key
  ensure_bridge
  ensure_no_forwarding
  ensure_apt_proxy
  raise_sysctl fs.inotify.max_user_instances 8192
  raise_sysctl fs.inotify.max_user_watches 1048576
  ensure_http_server
  ensure_registry
  base=$(base_hash)
  nfs=$(nfs_hash "$base")
  # The base is needed only for machines still to be made.
  local name need_base=0
  for name in "${MACHINES[@]}"; do
    if [[ ${PROFILE[$name]} == vm ]]; then
      vm_pid "$name" >/dev/null || vm_disk_ready "$name" || need_base=1
    else
      machine_root_ready "$name" || need_base=1
    fi
  done
  if ((need_base)); then ensure_base_root "$base"; fi
  # The VMs are the slowest to boot: prepare and start them while the nspawn machines come up.
  ensure_vms "$base" "$nfs" &
  nfs_job=$!
  for name in "${MACHINES[@]}"; do
    [[ ${PROFILE[$name]} == vm ]] && continue
    ensure_nspawn_machine "$name" "$LAB_CACHE/base-$base/rootfs"
  done
  wait "$nfs_job" || die "could not prepare or start the VMs"
  write_host_key_files
  wait_for_port "$HTTP_PORT" "the HTTP file server"
  wait_for_port "$REGISTRY_PORT" "the registry"
  wait_for_ssh 240 "$start"
  push_cached_images
  say "lab is up in $(elapsed_since "$start") s: ${#MACHINES[@]} machines on $BRIDGE ($SUBNET); key $SSH_KEY"
}

# push_cached_images: the lab's registry stands in for the upstream registries, so it gets the
# images `npm run artifacts` built, also when they were built before the lab existed.
push_cached_images() {
  if ! compgen -G "$CACHE/artifacts/build/crane-*/crane" >/dev/null; then
    say "no images built yet: npm run artifacts builds them and pushes them to the lab's registry"
    return 0
  fi
  bash "$REPO_DIR/scripts/artifacts.sh" push 2>&1 | sed 's/^/lab: /' ||
    die "could not push the cached images to the lab's registry (scripts/artifacts.sh push)"
}

stop_processes() {
  local label=$1; shift
  local pid pids=("$@") deadline
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$((SECONDS + 20))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$label: pid $pid did not stop; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

lab_down() {
  local purge=0 arg start name pid pids=()
  for arg in "$@"; do
    case $arg in
      --purge) purge=1 ;;
      *) die "unknown option for down: $arg" ;;
    esac
  done
  require_root down
  take_lock
  start=$(now)
  # Machines: a clean poweroff (nspawn turns SIGTERM into one), all at once.
  for name in "${MACHINES[@]}" "$PROBE"; do
    [[ ${PROFILE[$name]} == vm ]] && continue
    if host_runs_systemd; then
      systemctl stop "$(unit_name "$name")" 2>/dev/null || true
      systemctl reset-failed "$(unit_name "$name")" 2>/dev/null || true
    elif pid=$(nspawn_pid "$name"); then
      pids+=("$pid")
    fi
  done
  for name in "${MACHINES[@]}"; do
    if [[ ${PROFILE[$name]} == vm ]] && pid=$(vm_pid "$name"); then pids+=("$pid"); fi
  done
  if pid=$(pid_of "$RUN_DIR/httpd.pid" "httpd -f -p $HOST_ADDR:$HTTP_PORT"); then pids+=("$pid"); fi
  if pid=$(pid_of "$RUN_DIR/registry.pid" "docker-registry serve"); then pids+=("$pid"); fi
  if pid=$(pid_of "$RUN_DIR/apt-proxy.pid" "apt-cacher-ng -c $RUN_DIR/apt-proxy"); then pids+=("$pid"); fi
  stop_processes "down" "${pids[@]}"
  # Anything left in the machines' cgroups (a half-made lab whose pid files were lost).
  mapfile -t pids < <(lab_cgroup_pids "$CGROUP_RECORD")
  if ((${#pids[@]})); then
    say "killing ${#pids[@]} leftover processes of the machines"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.5
  fi
  lab_cgroup_remove "$CGROUP_RECORD"
  lab_cgroup_remove "$CGROUP_RECORD"
  local leftovers
  leftovers=$(lab_cgroup_leftovers "$CGROUP_RECORD")
  [[ -z $leftovers ]] || say "warning: cgroups left behind: $leftovers"
  for name in "${MACHINES[@]}"; do
    [[ ${PROFILE[$name]} == vm ]] || continue
    if ip link show "$(vm_tap "$name")" >/dev/null 2>&1; then ip link del "$(vm_tap "$name")"; fi
  done
  for name in "${MACHINES[@]}" "$PROBE"; do
    if ip link show "vb-$name" >/dev/null 2>&1; then ip link del "vb-$name"; fi
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  remove_forwarding_rules
  # Labs made before the forwarding was closed had turned it on.
  if [[ -f $RUN_DIR/ip_forward.before ]]; then
    cat "$RUN_DIR/ip_forward.before" >/proc/sys/net/ipv4/ip_forward
  fi
  restore_sysctls
  if [[ -f $RUN_DIR/nspawn-runtime-created ]]; then rm -rf /run/systemd/nspawn; fi
  if [[ -d $RUN_DIR ]]; then
    unmount_below "$RUN_DIR" || die "could not unmount the machine roots below $RUN_DIR"
    rm -rf --one-file-system "$RUN_DIR"
  fi
  rm -rf "$TOOLS_LAB"
  rmdir "$REPO_DIR/.tools" 2>/dev/null || true
  if ((purge)); then
    rm -rf "$LAB_CACHE"
    say "purged the cached base images in $LAB_CACHE"
  fi
  verify_down
  say "lab is down in $(elapsed_since "$start") s"
}

# What `down` promises: no bridge, tap, NAT rule, process or per-machine file left.
verify_down() {
  local problems=() rule
  mapfile -t rule < <(nat_rule)
  ip link show "$BRIDGE" >/dev/null 2>&1 && problems+=("bridge $BRIDGE")
  local name
  for name in "${MACHINES[@]}"; do
    [[ ${PROFILE[$name]} == vm ]] || continue
    ip link show "$(vm_tap "$name")" >/dev/null 2>&1 && problems+=("tap $(vm_tap "$name")")
  done
  iptables -t nat -C "${rule[@]}" 2>/dev/null && problems+=("NAT rule")
  nft list table inet "$FORWARD_TABLE" >/dev/null 2>&1 && problems+=("nft table inet $FORWARD_TABLE")
  pgrep -f -- "apt-cacher-ng -c $RUN_DIR/" >/dev/null && problems+=("package proxy process")
  pgrep -f -- "--network-bridge=$BRIDGE" >/dev/null && problems+=("systemd-nspawn processes")
  pgrep -f -- "-name k8s-ha-lab-" >/dev/null && problems+=("qemu processes")
  pgrep -f -- "httpd -f -p $HOST_ADDR:$HTTP_PORT" >/dev/null && problems+=("httpd process")
  pgrep -f -- "docker-registry serve $RUN_DIR/" >/dev/null && problems+=("registry process")
  [[ -e $RUN_DIR ]] && problems+=("$RUN_DIR")
  findmnt -rn -o SOURCE -t overlay | grep -q '^k8s-ha-lab-' && problems+=("overlay mounts")
  [[ -e $TOOLS_LAB ]] && problems+=("$TOOLS_LAB")
  if ((${#problems[@]})); then
    say "error: left behind: ${problems[*]}"
    return 1
  fi
  say "verified: no bridge, tap, NAT rule, forwarding table, lab process, $RUN_DIR or $TOOLS_LAB left"
}

lab_status() {
  local name kind proc sshstate state
  require_root status
  if ip link show "$BRIDGE" >/dev/null 2>&1; then say "bridge $BRIDGE up ($HOST_ADDR/$PREFIX)"; else say "bridge $BRIDGE: absent"; fi
  local rule
  mapfile -t rule < <(nat_rule)
  if iptables -t nat -C "${rule[@]}" 2>/dev/null; then say "NAT rule: present (an older lab's; \`up\` removes it)"; else say "NAT rule: absent"; fi
  if nft list table inet "$FORWARD_TABLE" >/dev/null 2>&1; then
    say "forwarding: dropped (nft table inet $FORWARD_TABLE); $(forward_drop_counts)"
  else
    say "forwarding: no lab table (nft table inet $FORWARD_TABLE absent)"
  fi
  if pid_of "$RUN_DIR/apt-proxy.pid" apt-cacher-ng >/dev/null; then say "package proxy $HOST_ADDR:$APT_PROXY_PORT: running"; else say "package proxy $HOST_ADDR:$APT_PROXY_PORT: stopped"; fi
  if pid_of "$RUN_DIR/httpd.pid" httpd >/dev/null; then say "http://$HOST_ADDR:$HTTP_PORT/: running"; else say "http://$HOST_ADDR:$HTTP_PORT/: stopped"; fi
  if pid_of "$RUN_DIR/registry.pid" docker-registry >/dev/null; then say "registry $HOST_ADDR:$REGISTRY_PORT: running"; else say "registry $HOST_ADDR:$REGISTRY_PORT: stopped"; fi
  for name in "${MACHINES[@]}"; do
    if [[ ${PROFILE[$name]} == vm ]]; then
      kind="qemu"
      if proc=$(vm_pid "$name"); then proc="pid $proc"; else proc=stopped; fi
    else
      kind="nspawn"
      if proc=$(nspawn_pid "$name"); then proc="pid $proc"; else proc=stopped; fi
    fi
    sshstate="ssh -"
    state="-"
    if [[ $proc != stopped && -f $KNOWN_HOSTS ]]; then
      if state=$(ssh_machine "$name" systemctl is-system-running 2>/dev/null); then sshstate="ssh ok"
      elif [[ -n $state ]]; then sshstate="ssh ok"
      else sshstate="ssh failed"; state="-"; fi
    fi
    printf '%s: %-12s %-7s %-6s %-10s %-10s %s\n' "$name" "${ADDR[$name]}" "$kind" "${PROFILE[$name]}" "$proc" "$sshstate" "$state"
  done
}

lab_ssh() {
  (($#)) || die "usage: lab.sh ssh NAME [CMD...]"
  local name=$1; shift
  [[ -f $KNOWN_HOSTS ]] || die "no $KNOWN_HOSTS: run lab.sh up first"
  [[ -n ${ADDR[$name]:-} ]] || die "no machine named '$name' (machines: ${MACHINES[*]})"
  exec ssh "${SSH_OPTS[@]}" "root@${ADDR[$name]}" "$@"
}

# ---------------------------------------------------------------------------------------------
# Smoke check

check_machine_running() {
  local name=$1 state deadline=$((SECONDS + 90))
  while :; do
    state=$(ssh_machine "$name" systemctl is-system-running 2>/dev/null) || true
    [[ $state == starting || $state == initializing || -z $state ]] || break
    ((SECONDS < deadline)) || break
    sleep 1
  done
  if [[ $state == running ]]; then
    say_for "$name" "ssh ok with pinned host key; systemctl is-system-running: running"
    return 0
  fi
  say_for "$name" "systemctl is-system-running: ${state:-no answer over SSH}"
  ssh_machine "$name" systemctl --failed --no-legend --plain 2>/dev/null | sed "s/^/$name: failed unit: /" || true
  return 1
}

keepalived_config() {
  local self=$1 peer=$2 priority=$3
  cat <<EOF
vrrp_instance lab_check {
  state BACKUP
  interface host0
  virtual_router_id 213
  priority $priority
  advert_int 1
  unicast_src_ip ${ADDR[$self]}
  unicast_peer {
    ${ADDR[$peer]}
  }
  virtual_ipaddress {
    $VIP/$PREFIX dev host0
  }
}
EOF
}

vip_holder() {
  local name holders=()
  for name in lb1 lb2; do
    if ssh_machine "$name" ip -4 -o addr show dev host0 2>/dev/null | grep -q " $VIP/"; then holders+=("$name"); fi
  done
  printf '%s\n' "${holders[*]:-}"
}

wait_for_vip_on() {
  local expected=$1 timeout=$2 t0 holder
  t0=$(now)
  while :; do
    holder=$(vip_holder)
    [[ $holder == "$expected" ]] && { printf '%s\n' "$(elapsed_since "$t0")"; return 0; }
    if awk -v e="$(elapsed_since "$t0")" -v t="$timeout" 'BEGIN { exit !(e > t) }'; then
      say "VIP $VIP: expected on $expected, held by '${holder:-nobody}'"
      return 1
    fi
    sleep 0.2
  done
}

remove_keepalived() {
  local name
  for name in lb1 lb2; do
    ssh_machine "$name" "systemctl stop keepalived 2>/dev/null; DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq keepalived >/dev/null 2>&1;
      DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -qq >/dev/null 2>&1; rm -rf /etc/keepalived;
      ip addr del $VIP/$PREFIX dev host0 2>/dev/null; true" || true
  done
}

check_vrrp() {
  local name t
  say "VRRP: installing keepalived on lb1 and lb2 (temporarily)"
  for name in lb1 lb2; do
    ssh_machine "$name" "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends keepalived >/dev/null 2>/tmp/lab-apt.err || { cat /tmp/lab-apt.err; exit 1; }" ||
      { remove_keepalived; say_for "$name" "could not install keepalived"; return 1; }
  done
  trap 'remove_keepalived' RETURN
  keepalived_config lb1 lb2 150 | ssh_machine lb1 "mkdir -p /etc/keepalived && cat >/etc/keepalived/keepalived.conf"
  keepalived_config lb2 lb1 100 | ssh_machine lb2 "mkdir -p /etc/keepalived && cat >/etc/keepalived/keepalived.conf"
  ssh_machine lb1 systemctl restart keepalived
  ssh_machine lb2 systemctl restart keepalived
  t=$(wait_for_vip_on lb1 15) || return 1
  say_for lb1 "holds VIP $VIP (after ${t} s)"
  ssh_machine lb1 systemctl stop keepalived
  t=$(wait_for_vip_on lb2 15) || return 1
  say_for lb2 "took over VIP $VIP ${t} s after keepalived stopped on lb1"
  ssh_machine lb1 systemctl start keepalived
  t=$(wait_for_vip_on lb1 15) || return 1
  say_for lb1 "took VIP $VIP back ${t} s after keepalived started again"
  remove_keepalived
  trap - RETURN
  for name in lb1 lb2; do
    if ssh_machine "$name" "dpkg -s keepalived >/dev/null 2>&1 || ip -o addr show dev host0 | grep -q ' $VIP/'"; then
      say_for "$name" "keepalived or the VIP is still there after removal"; return 1
    fi
  done
  say "VRRP: ok; keepalived removed again from lb1 and lb2"
}

# Nested containers in w1: Debian's containerd and runc, a busybox root, `ctr run` with a memory
# limit (proves writable cgroups) and the kubelet settings written back with their own values
# (proves writable, without changing the host). Everything installed is removed afterwards.
check_nested() {
  local name=w1
  say_for "$name" "nested container check: installing containerd, runc, busybox-static (temporarily)"
  # shellcheck disable=SC2016
  ssh_machine "$name" 'set -e
    export DEBIAN_FRONTEND=noninteractive
    dpkg-query -W -f="\${Package}\n" | sort >/tmp/lab-packages.before
    apt-get update -qq && apt-get install -y -qq --no-install-recommends containerd runc busybox-static >/dev/null 2>/tmp/lab-apt.err || { cat /tmp/lab-apt.err; exit 1; }
    systemctl start containerd
    ctr plugins ls | awk "\$2 == \"overlayfs\" { print \"containerd overlayfs snapshotter on /var/lib/containerd: \" \$NF }"
    mkdir -p /tmp/lab-nested/rootfs/bin /tmp/lab-nested/rootfs/proc /tmp/lab-nested/rootfs/sys /tmp/lab-nested/rootfs/dev
    cp /bin/busybox /tmp/lab-nested/rootfs/bin/busybox
    ln -sf busybox /tmp/lab-nested/rootfs/bin/sh
    ctr run --rm --memory-limit 67108864 --rootfs /tmp/lab-nested/rootfs lab-nested /bin/busybox sh -c \
      "echo nested container: hello from \$(/bin/busybox uname -n); /bin/busybox grep -E \":(memory|cpu|pids):\" /proc/self/cgroup; /bin/busybox sleep 4" &
    for i in $(seq 100); do [ -f /sys/fs/cgroup/memory/default/lab-nested/memory.limit_in_bytes ] && break; sleep 0.2; done
    echo "cgroup made by runc: /sys/fs/cgroup/memory/default/lab-nested/memory.limit_in_bytes = $(cat /sys/fs/cgroup/memory/default/lab-nested/memory.limit_in_bytes)"
    wait $!
    for f in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
      cat /proc/sys/$f >/proc/sys/$f && echo "writable: /proc/sys/$f"
    done
    sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 && echo "writable: net.ipv4.ip_forward, net.bridge.bridge-nf-call-iptables"
    ' 2>&1 | sed "s/^/$name: /" || { cleanup_nested; return 1; }
  cleanup_nested
}

cleanup_nested() {
  local name=w1
  # shellcheck disable=SC2016
  ssh_machine "$name" 'export DEBIAN_FRONTEND=noninteractive
    ctr task kill -s KILL lab-nested >/dev/null 2>&1; ctr container rm lab-nested >/dev/null 2>&1
    systemctl stop containerd 2>/dev/null
    apt-get purge -y -qq containerd runc busybox-static >/dev/null 2>&1
    apt-get autoremove --purge -y -qq >/dev/null 2>&1
    rm -rf /tmp/lab-nested /run/containerd /etc/containerd /opt/containerd
    find /var/lib/containerd -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    for d in /sys/fs/cgroup/*/default; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    dpkg-query -W -f="\${Package}\n" | sort >/tmp/lab-packages.after
    if ! diff -q /tmp/lab-packages.before /tmp/lab-packages.after >/dev/null; then
      echo "packages differ after cleanup:"; diff /tmp/lab-packages.before /tmp/lab-packages.after; rm -f /tmp/lab-packages.*; exit 1
    fi
    rm -f /tmp/lab-packages.*
    echo "containerd, runc and busybox-static removed again; package set as before"' 2>&1 | sed "s/^/$name: /"
}

latest_version() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sed 's/^v//' | sort -V | tail -n 1; }

# Kill a throwaway nspawn machine and remove everything of it.
remove_nspawn_machine() {
  local name=$1
  kill_machine_leftovers "$name"
  remove_machine_dir "$(machine_dir "$name")"
  rm -f "$RUN_DIR/hostkeys/$name.pub" "$RUN_DIR/$name.known_hosts"
}

# kubelet, containerd and runc from the lab's HTTP server (filled by the artifacts command) in a
# throwaway machine with the node profile: kubelet standalone runs a static pod.
check_kubelet() {
  local k8s containerd runc driver=${K8S_HA_LAB_KUBELET_DRIVER:-systemd} base known deadline rc=0
  k8s=$(latest_version "$WWW_DIR/dl.k8s.io/release")
  containerd=$(latest_version "$WWW_DIR/github.com/containerd/containerd/releases/download")
  runc=$(latest_version "$WWW_DIR/github.com/opencontainers/runc/releases/download")
  if [[ -z $k8s || -z $containerd || -z $runc ]]; then
    say "kubelet check: needs kubelet, containerd and runc under $WWW_DIR (the artifacts command puts them there)"
    return 1
  fi
  base=$(base_hash)
  ensure_base_root "$base"
  say_for "$PROBE" "throwaway machine at ${ADDR[$PROBE]} for the kubelet check"
  remove_nspawn_machine "$PROBE"
  ensure_machine_root "$PROBE" "$LAB_CACHE/base-$base/rootfs"
  known=$RUN_DIR/$PROBE.known_hosts
  printf '%s %s\n' "${ADDR[$PROBE]}" "$(cut -d' ' -f1-2 "$RUN_DIR/hostkeys/$PROBE.pub")" >"$known"
  start_nspawn_machine "$PROBE"
  deadline=$((SECONDS + 60))
  until ssh -o UserKnownHostsFile="$known" "${SSH_OPTS[@]}" "root@${ADDR[$PROBE]}" true 2>/dev/null; do
    ((SECONDS < deadline)) || { remove_nspawn_machine "$PROBE"; say_for "$PROBE" "no SSH"; return 1; }
    sleep 1
  done
  ssh -o UserKnownHostsFile="$known" "${SSH_OPTS[@]}" "root@${ADDR[$PROBE]}" \
    bash -s -- "$k8s" "$containerd" "$runc" "$driver" <"$HELPERS/kubelet-probe.sh" || rc=1
  remove_nspawn_machine "$PROBE"
  say_for "$PROBE" "removed"
  return "$rc"
}

lab_check() {
  local nested=0 kubelet=0 arg name failed=0 start
  for arg in "$@"; do
    case $arg in
      --nested) nested=1 ;;
      --kubelet) kubelet=1 ;;
      *) die "unknown option for check: $arg" ;;
    esac
  done
  require_root check
  [[ -f $KNOWN_HOSTS ]] || die "no $KNOWN_HOSTS: run lab.sh up first"
  start=$(now)
  for name in "${MACHINES[@]}"; do
    check_machine_running "$name" || failed=1
  done
  ((failed)) && die "some machines are not running cleanly"
  check_vrrp || die "VRRP check failed"
  if ((nested)); then check_nested || die "nested container check failed"; fi
  if ((kubelet)); then check_kubelet || die "kubelet check failed"; fi
  say "check passed in $(elapsed_since "$start") s"
}

usage() {
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local verb=${1:-}
  (($#)) && shift
  case $verb in
    up) lab_up "$@" ;;
    down) lab_down "$@" ;;
    status) lab_status "$@" ;;
    forwarding) lab_forwarding ;;
    ssh) lab_ssh "$@" ;;
    check) lab_check "$@" ;;
    deps) install_deps ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"

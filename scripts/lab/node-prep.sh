#!/bin/sh
# k8s-ha lab: installed as /usr/local/sbin/k8s-ha-lab-node-prep in the nspawn machines that may
# run containerd and kubelet (control plane, workers, mirror), and run once per boot by
# k8s-ha-lab-node-prep.service before sysinit.target.
#
# What kubelet (and containerd/runc under it) needs from a container, and how the lab gives it:
# - cgroups it can write: kubelet creates /kubepods/... in cpu, cpuacct, cpuset, memory, pids
#   (and blkio, devices, freezer for runc). systemd-nspawn mounts the v1 hierarchies read-only;
#   this script remounts each of them read-write. The machine's cgroup namespace is rooted at a
#   cgroup of its own on the host (see cgroups.sh), so it only sees and writes its own subtree.
#   A plain "remount,rw" of the memory hierarchy fails with "mount point is busy"; a
#   "remount,bind,rw" only clears the read-only flag of this mount point, which is all we need.
# - the six kernel settings kubelet checks at start and sets when they differ (it fails to start
#   when it cannot): vm.overcommit_memory=1, vm.panic_on_oom=0, kernel.panic=10,
#   kernel.panic_on_oops=1, kernel.keys.root_maxkeys=1000000, kernel.keys.root_maxbytes=25000000.
#   /proc/sys is read-only in nspawn; each of these six files is bound over itself read-write and
#   nothing else of /proc/sys. They are not namespaced: a write changes the host kernel (as with
#   kind's privileged nodes).
# - net.* sysctls (net.ipv4.ip_forward, net.bridge.bridge-nf-call-iptables, conntrack timeouts,
#   route_localnet): already writable, /proc/sys/net belongs to the machine's own network
#   namespace. nf_conntrack_max is read-only outside the host's namespace; kube-proxy only
#   writes it when it is below what it wants (the host has 262144), else set
#   conntrack.maxPerCore: 0 in kube-proxy's configuration as kind does.
# - shared mount propagation for /var/lib/kubelet (volumes, mountPropagation): / is made rshared.
# The rest comes from systemd-nspawn's options in lab.sh: all capabilities (CAP_SYS_ADMIN for
# mounts, CAP_NET_ADMIN, ...), the @known syscall filter (runc's seccomp, keyctl, ...),
# /dev/kmsg bound in (kubelet's OOM watcher refuses to start without it), and a plain directory
# bound at /var/lib/containerd (containerd's overlayfs snapshotter cannot use the machine's
# overlay root as its upper layer). Device access: the machine's devices cgroup inherits "a *:*
# rwm" from its parent, so runc can grant devices to nested containers.
#
# What the lab cannot give, and the program's configuration must allow for (seen with kubelet
# 1.35.4, containerd 2.2.9 and runc 1.3.6 in w1, both cgroup drivers, a static pod running):
# - this host has cgroup v1 only: kubelet 1.35 refuses it unless its configuration says
#   failCgroupV1: false;
# - CAP_SYS_RESOURCE is not in the host's capability bounding set, so nothing in a machine can
#   lower an oom_score_adj: runc then fails every pod sandbox (oom_score_adj -998) with "can't get
#   final child's PID from pipe: EOF" unless containerd's CRI runtime has
#   restrict_oom_score_adj = true (harmless elsewhere); kubelet only logs that it cannot set its
#   own -999 and cannot raise its file-handle limit.
set -eu

for mnt in $(findmnt -rn -t cgroup -o TARGET); do
  case "$(findmnt -rn -o VFS-OPTIONS --mountpoint "$mnt")" in
    ro,* | *,ro,* | *,ro) mount -o remount,bind,rw "$mnt" ;;
  esac
done

for f in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops \
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
  p=/proc/sys/$f
  if [ -e "$p" ] && ! findmnt -rn --mountpoint "$p" >/dev/null; then
    mount --bind "$p" "$p"
    mount -o remount,bind,rw "$p"
  fi
done

mount --make-rshared /

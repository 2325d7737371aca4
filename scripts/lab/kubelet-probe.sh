#!/bin/bash
# k8s-ha lab: run by `lab.sh check --kubelet` inside a throwaway node-profile machine (never in
# the topology's machines). Installs containerd, runc and kubelet from the lab's HTTP server,
# starts kubelet standalone (no API server) with a static hostNetwork pod from the lab registry,
# and shows that the pod runs with the memory limit kubelet gave its cgroup.
# Usage: kubelet-probe.sh K8S_VERSION CONTAINERD_VERSION RUNC_VERSION CGROUP_DRIVER
set -Eeuo pipefail
k8s=$1 containerd=$2 runc=$3 driver=$4
www=http://10.213.0.1:8080
registry=10.213.0.1:5000
say() { printf '%s: %s\n' "$(hostname)" "$*"; }
export PATH=/usr/local/bin:/usr/local/sbin:$PATH

say "installing containerd $containerd, runc $runc, kubelet $k8s from $www"
curl -fsS -o /tmp/containerd.tgz "$www/github.com/containerd/containerd/releases/download/v$containerd/containerd-$containerd-linux-amd64.tar.gz"
tar -C /usr/local -xzf /tmp/containerd.tgz
curl -fsS -o /usr/local/sbin/runc "$www/github.com/opencontainers/runc/releases/download/v$runc/runc.amd64"
curl -fsS -o /usr/local/bin/kubelet "$www/dl.k8s.io/release/v$k8s/bin/linux/amd64/kubelet"
chmod +x /usr/local/sbin/runc /usr/local/bin/kubelet

pause=$(curl -fsS "http://$registry/v2/registry.k8s.io/pause/tags/list" | sed -n 's/.*"tags":\["\([^"]*\)".*/\1/p')
busybox=$(curl -fsS "http://$registry/v2/docker.io/library/busybox/tags/list" | sed -n 's/.*"tags":\["\([^"]*\)".*/\1/p')
[[ -n $pause && -n $busybox ]] || { say "the lab registry lacks registry.k8s.io/pause or docker.io/library/busybox"; exit 1; }

mkdir -p /etc/containerd/certs.d/registry.k8s.io /etc/containerd/certs.d/docker.io /etc/kubernetes/manifests
systemd_cgroup=false
[[ $driver == systemd ]] && systemd_cgroup=true
cat >/etc/containerd/config.toml <<TOML
version = 3
[plugins.'io.containerd.cri.v1.runtime']
  # This host has no CAP_SYS_RESOURCE to give: without this, every pod sandbox fails.
  restrict_oom_score_adj = true
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = $systemd_cgroup
[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = '/etc/containerd/certs.d'
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = 'registry.k8s.io/pause:$pause'
TOML
for host in registry.k8s.io docker.io; do
  cat >/etc/containerd/certs.d/$host/hosts.toml <<TOML
server = "https://$host"
[host."http://$registry/v2/$host"]
  capabilities = ["pull", "resolve"]
  override_path = true
TOML
done
cat >/etc/kubernetes/kubelet.yaml <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: $driver
failCgroupV1: false
staticPodPath: /etc/kubernetes/manifests
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
YAML
cat >/etc/kubernetes/manifests/probe.yaml <<YAML
apiVersion: v1
kind: Pod
metadata: {name: lab-probe, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: probe
    image: docker.io/library/busybox:$busybox
    command: ["sleep", "3600"]
    resources: {limits: {memory: 32Mi, cpu: 100m}}
YAML
systemd-run --quiet --unit=containerd --property=Delegate=yes --property=KillMode=process /usr/local/bin/containerd
systemd-run --quiet --unit=kubelet --property=Delegate=yes /usr/local/bin/kubelet --config=/etc/kubernetes/kubelet.yaml
say "kubelet started (cgroupDriver $driver, failCgroupV1: false); waiting for the static pod"
running=0
for _ in $(seq 90); do
  running=$(ctr -n k8s.io tasks ls 2>/dev/null | grep -c RUNNING || true)
  ((running >= 2)) && break
  sleep 2
done
say "kubelet: $(systemctl is-active kubelet); running containers (sandbox + probe): $running"
limit=$(find /sys/fs/cgroup/memory -path '*kubepods*' -name memory.limit_in_bytes -exec grep -l '^33554432$' {} + | head -1)
[[ -n $limit ]] && say "pod memory limit set by kubelet: $limit = $(<"$limit")"
journalctl -u kubelet --no-pager | grep -E ' E[0-9]{4} ' | grep -oE '"[^"]+" err="[^"]{0,120}' | sort | uniq -c | sed "s/^/$(hostname): kubelet error seen: /" | head -8 || true
((running >= 2)) && [[ $(systemctl is-active kubelet) == active ]]

# shellcheck shell=bash disable=SC2016
# (SC2016: the single-quoted scripts run in a child shell, with their own $1...)
# Cgroup placement of lab machines on a host whose PID 1 is not systemd (sourced by lab.sh and
# nspawn-machine.sh).
#
# systemd-nspawn started outside any systemd unit runs the container in the cgroup it was
# started from and creates "payload" and "supervisor" below it (name=systemd and cgroup2).
# Two machines started from the same cgroup would share those cgroups, so the systemd
# instances inside them would manage each other's processes, and kubelets would see each
# other's pods. Each machine therefore gets a cgroup of its own, in every hierarchy:
# <the caller's cgroup>/k8s-ha-lab/<machine>. nspawn gives the machine a cgroup namespace
# rooted there, so what a machine creates (kubepods, containerd's cgroups) stays inside it.
# The caller's own cgroup is kept as the parent so that whoever tracks the caller still
# tracks the machines.
#
# Each created directory is recorded in a file ("v1 <absolute dir>" or "v2 <path inside the
# cgroup2 hierarchy>") so that `down` can remove exactly those.

LAB_CGROUP_PARENT=k8s-ha-lab

# The mount point of the v1 hierarchy that carries the controllers CTRLS ("cpu", "name=systemd").
lab_cgroup_v1_mountpoint() {
  local ctrls=$1 target options want found
  while read -r target options; do
    found=1
    IFS=, read -ra want <<<"$ctrls"
    for c in "${want[@]}"; do
      [[ ",$options," == *",$c,"* ]] || { found=0; break; }
    done
    if ((found)); then printf '%s\n' "$target"; return 0; fi
  done < <(findmnt -rn -t cgroup -o TARGET,OPTIONS || true)
  return 1
}

# Run a script with the cgroup2 hierarchy mounted at "$1" in a private mount namespace (the host
# may not mount cgroup2 at all; nspawn still uses it for the machine's systemd).
lab_cgroup_v2_run() {
  local script=$1; shift
  local mnt
  mnt=$(mktemp -d /tmp/k8s-ha-lab-cgroup2.XXXXXX)
  unshare --mount --propagation private bash -c \
    'mount -t cgroup2 cgroup2 "$1" || exit 0; '"$script" _ "$mnt" "$@" || true
  rmdir "$mnt"
}

# Copy cpuset.cpus/cpuset.mems from the parent: a new v1 cpuset cgroup starts empty and
# refuses tasks.
lab_cgroup_fill_cpuset() {
  local dir=$1 f
  for f in cpuset.cpus cpuset.mems; do
    if [[ -f $dir/$f && -z $(<"$dir/$f") ]]; then
      cat "$dir/../$f" >"$dir/$f"
    fi
  done
}

# Move PID into <caller cgroup>/k8s-ha-lab/NAME in every hierarchy; record what was made.
lab_cgroup_join() {
  local name=$1 pid=$2 record=$3
  local _id ctrls path mnt base memberships
  # Read once: /proc/self/cgroup changes under a reader as the process moves.
  memberships=$(</proc/self/cgroup)
  while IFS=: read -r _id ctrls path; do
    if [[ -z $ctrls ]]; then
      [[ $path == "/" ]] && path=""
      printf 'v2 %s\n' "$path/$LAB_CGROUP_PARENT" >>"$record"
      lab_cgroup_v2_run 'mkdir -p "$1$2" && echo "$3" >"$1$2/cgroup.procs"' \
        "$path/$LAB_CGROUP_PARENT/$name" "$pid"
      continue
    fi
    mnt=$(lab_cgroup_v1_mountpoint "$ctrls") || continue
    [[ $path == "/" ]] && path=""
    base=$mnt$path/$LAB_CGROUP_PARENT
    mkdir -p "$base/$name"
    lab_cgroup_fill_cpuset "$base"
    lab_cgroup_fill_cpuset "$base/$name"
    printf 'v1 %s\n' "$base" >>"$record"
    echo "$pid" >"$base/$name/cgroup.procs"
  done <<<"$memberships"
}

# Pids of every process inside the recorded cgroups (NAME, or all machines when NAME is empty).
lab_cgroup_pids() {
  local record=$1 name=${2:-} kind dir
  [[ -f $record ]] || return 0
  sort -u "$record" | while read -r kind dir; do
    if [[ $kind == v1 ]]; then
      if [[ -d $dir/$name ]]; then find "$dir/$name" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
    else
      lab_cgroup_v2_run '[ -d "$1$2" ] && find "$1$2" -name cgroup.procs -exec cat {} + 2>/dev/null' "$dir/$name"
    fi
  done | sort -un
}

# Remove the recorded cgroup directories (of NAME, or all) depth-first; busy ones stay.
lab_cgroup_remove() {
  local record=$1 name=${2:-} kind dir
  [[ -f $record ]] || return 0
  sort -u "$record" | while read -r kind dir; do
    if [[ $kind == v1 ]]; then
      if [[ -d $dir/$name ]]; then find "$dir/$name" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
      if [[ -z $name ]]; then rmdir "$dir" 2>/dev/null || true; fi
    else
      lab_cgroup_v2_run '[ -d "$1$2" ] && find "$1$2" -depth -type d -exec rmdir {} + 2>/dev/null; [ -z "$3" ] && rmdir "$1$4" 2>/dev/null; true' \
        "$dir/$name" "$name" "$dir"
    fi
    true
  done
}

# Whether any recorded cgroup directory is still there.
lab_cgroup_leftovers() {
  local record=$1 kind dir
  [[ -f $record ]] || return 0
  sort -u "$record" | while read -r kind dir; do
    if [[ $kind == v1 ]]; then
      if [[ -d $dir ]]; then printf '%s\n' "$dir"; fi
    else
      lab_cgroup_v2_run '[ -d "$1$2" ] && echo "cgroup2:$2"; true' "$dir"
    fi
    true
  done
}

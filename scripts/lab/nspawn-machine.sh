#!/usr/bin/env bash
# Runs one lab nspawn machine in the background (started by lab.sh with setsid):
# nspawn-machine.sh NAME PIDFILE CGROUP_RECORD -- SYSTEMD-NSPAWN-ARGS...
# It moves itself into a cgroup of its own (see cgroups.sh), writes its pid, and becomes
# systemd-nspawn, so the pid file names the nspawn process for as long as the machine runs.
set -Eeuo pipefail
name=$1 pidfile=$2 record=$3
shift 3
[[ ${1:-} == -- ]] && shift
# shellcheck source=scripts/lab/cgroups.sh
source "$(dirname "${BASH_SOURCE[0]}")/cgroups.sh"
echo "$name: starting systemd-nspawn $*"
lab_cgroup_join "$name" "$$" "$record"
echo "$$" >"$pidfile"
exec systemd-nspawn "$@"

#!/usr/bin/env bash
# Drift: what differs on the stack's hosts from what its steps installed (npm run drift).
#   bash scripts/drift.sh [--stack NAME]
#                                    reports, per host and step, each file edited, missing or with
#                                    another mode, and each unit that does not run; exits 3 on drift
#   bash scripts/drift.sh --repair   also asks the next `pulumi up` to re-run those steps: it sets
#                                    k8s-ha:repair["HOST/STEP"] to the time of the check, which the
#                                    program passes to the step (K8SHA_REPAIR), so `pulumi preview`
#                                    lists them and `pulumi up` puts the files back and starts the
#                                    units (the steps are idempotent; a daemon restarts only when a
#                                    file of its own changed)
# A `pulumi up` alone never notices drift: a step runs only when its inputs change.
# The hosts, their pinned keys and the SSH key come from the stack's config (scripts/pulumi.sh, so
# --stack NAME or K8S_HA_STACK picks the stack, on the backend pulumi.sh picks); the key is written to a private temporary folder and removed at
# exit. Only the read-only scripts/drift-check.sh runs on the hosts.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf 'drift: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
usage="usage: drift.sh [--stack NAME] [--repair]"
# shellcheck source=scripts/stack-hosts.sh
source scripts/stack-hosts.sh
stack_options "$usage" "$@"
repair=no
for arg in "${STACK_REST[@]}"; do
    case $arg in
    --repair) repair=yes ;;
    *) die "$usage" ;;
    esac
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/k8s-ha-drift.XXXXXX")
chmod 0700 "$WORK"
trap 'rm -rf "$WORK"' EXIT

stack_hosts_load "$WORK" drift || exit 1

# check NAME: the host's drift lines, each prefixed with the host's name.
check() {
    local name=$1
    if ! on_host "$name" "bash -s" <scripts/drift-check.sh >"$WORK/out.$name" 2>"$WORK/err.$name"; then
        echo "$name - unreachable $(tail -n 1 "$WORK/err.$name")" >"$WORK/out.$name"
        return 0
    fi
    sed -i "s/^/$name /" "$WORK/out.$name"
}
pids=()
while read -r name _; do
    [[ -n $name ]] || continue
    check "$name" &
    pids+=($!)
done <"$WORK/hosts"
for p in "${pids[@]}"; do wait "$p"; done

cat "$WORK"/out.* 2>/dev/null | sort >"$WORK/report" || true
hosts=$(grep -c . "$WORK/hosts" || true)
if [[ ! -s $WORK/report ]]; then
    say "no drift on $hosts hosts"
    exit 0
fi
while read -r host step what; do say "$host $step: $what"; done <"$WORK/report"
if grep -q ' - unreachable' "$WORK/report"; then say "unreachable hosts were not checked"; fi
if [[ $repair == yes ]]; then
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    awk '$2 != "-" { print $1 "/" $2 }' "$WORK/report" | sort -u | while read -r hs; do
        bash scripts/pulumi.sh config set --path "k8s-ha:repair[\"$hs\"]" "$stamp" >/dev/null
        say "asked the next up to re-run $hs (k8s-ha:repair[\"$hs\"] = $stamp)"
    done
    say "run pulumi preview to see the steps, pulumi up to repair them"
fi
exit 3

#!/usr/bin/env bash
# Drift: what differs on the stack's hosts from what its steps installed (npm run drift).
#   bash scripts/drift.sh            reports, per host and step, each file edited, missing or with
#                                    another mode, and each unit that does not run; exits 3 on drift
#   bash scripts/drift.sh --repair   also asks the next `pulumi up` to re-run those steps: it sets
#                                    k8s-ha:repair["HOST/STEP"] to the time of the check, which the
#                                    program passes to the step (K8SHA_REPAIR), so `pulumi preview`
#                                    lists them and `pulumi up` puts the files back and starts the
#                                    units (the steps are idempotent; a daemon restarts only when a
#                                    file of its own changed)
# A `pulumi up` alone never notices drift: a step runs only when its inputs change.
# The hosts, their pinned keys and the SSH key come from the stack's config (scripts/pulumi.sh, so
# K8S_HA_STACK picks the stack); the key is written to a private temporary folder and removed at
# exit. Only the read-only scripts/drift-check.sh runs on the hosts.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf 'drift: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
repair=no
case ${1:-} in
--repair) repair=yes ;;
"") ;;
*) die "usage: drift.sh [--repair]" ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/k8s-ha-drift.XXXXXX")
chmod 0700 "$WORK"
trap 'rm -rf "$WORK"' EXIT

bash scripts/pulumi.sh config --json >"$WORK/config.json" 2>"$WORK/config.err" || die "cannot read the stack config: $(tail -n 3 "$WORK/config.err")"
(umask 077 && bash scripts/pulumi.sh config get k8s-ha:sshPrivateKey >"$WORK/key" 2>/dev/null) || die "the stack has no k8s-ha:sshPrivateKey"
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
const cfg = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const value = (k) => { const e = cfg[`k8s-ha:${k}`]; return e ? (e.objectValue ?? (() => { try { return JSON.parse(e.value); } catch { return e.value; } })()) : undefined; };
const hosts = value("hosts") ?? {};
const user = value("sshUser") ?? "root", port = Number(value("sshPort") ?? 22);
const known = [], list = [];
for (const [name, h] of Object.entries(hosts)) {
    const p = Number(h.port ?? port);
    if (!h.hostKey) { console.error(`drift: ${name} has no pinned hostKey: skipped`); continue; }
    known.push(`${p === 22 ? h.address : `[${h.address}]:${p}`} ${h.hostKey.trim().split(/\s+/).slice(0, 2).join(" ")}`);
    list.push([name, h.address, p, h.user ?? user].join(" "));
}
require("fs").writeFileSync(process.argv[2], known.join("\n") + "\n");
require("fs").writeFileSync(process.argv[3], list.join("\n") + "\n");
' "$WORK/config.json" "$WORK/known_hosts" "$WORK/hosts"

# check NAME ADDRESS PORT USER: the host's drift lines, each prefixed with the host's name.
check() {
    local name=$1 address=$2 port=$3 user=$4 sudo=""
    [[ $user == root ]] || sudo="sudo -n"
    if ! ssh -i "$WORK/key" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$WORK/known_hosts" \
        -o ConnectTimeout=10 -p "$port" "$user@$address" "$sudo bash -s" <scripts/drift-check.sh >"$WORK/out.$name" 2>"$WORK/err.$name"; then
        echo "$name - unreachable $(tail -n 1 "$WORK/err.$name")" >"$WORK/out.$name"
        return 0
    fi
    sed -i "s/^/$name /" "$WORK/out.$name"
}
pids=()
while read -r name address port user; do
    [[ -n $name ]] || continue
    check "$name" "$address" "$port" "$user" &
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

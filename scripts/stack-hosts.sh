#!/usr/bin/env bash
# Sourced by the scripts that reach the stack's hosts from the Pulumi machine (drift.sh,
# etcd-backup.sh). The hosts, their pinned keys and the SSH key come from the stack's config
# (scripts/pulumi.sh, so K8S_HA_STACK picks the stack and pulumi.sh the backend); the key is written to the caller's private
# folder, which the caller removes at exit. Hosts without a pinned key are left out.
#   stack_hosts_load WORK TAG   writes WORK/key, WORK/known_hosts and WORK/hosts, one line a host:
#                               NAME ADDRESS PORT USER ROLES (roles joined by commas)
#   on_host NAME COMMAND        runs COMMAND on the host as root (sudo -n for another user)
#   stack_options USAGE ARGS... takes --stack NAME, -s NAME, --stack=NAME (exported as
#                               K8S_HA_STACK, which scripts/pulumi.sh reads) and -h/--help (USAGE,
#                               exit 0) from ARGS; the other arguments are left in STACK_REST, in
#                               order. A --stack without a name stops with USAGE (the caller's die).

STACK_HOSTS_WORK=""
STACK_REST=()

stack_options() {
    local usage=$1
    shift
    STACK_REST=()
    while (($# > 0)); do
        case $1 in
        --stack | -s)
            (($# >= 2)) || die "$usage"
            export K8S_HA_STACK=$2
            shift
            ;;
        --stack=*) export K8S_HA_STACK=${1#--stack=} ;;
        -h | --help)
            echo "$usage"
            exit 0
            ;;
        *) STACK_REST+=("$1") ;;
        esac
        shift
    done
}

stack_hosts_load() {
    local work=$1 tag=$2
    STACK_HOSTS_WORK=$work
    bash scripts/pulumi.sh config --json >"$work/config.json" 2>"$work/config.err" ||
        { printf '%s: error: cannot read the stack config: %s\n' "$tag" "$(tail -n 3 "$work/config.err")" >&2; return 1; }
    if ! (umask 077 && bash scripts/pulumi.sh config get k8s-ha:sshPrivateKey >"$work/key" 2>"$work/key.err"); then
        # A key that is not there, or one that cannot be read (a wrong passphrase, say): pulumi's words.
        if grep -q 'not found' "$work/key.err"; then
            printf '%s: error: the stack has no k8s-ha:sshPrivateKey (set it: pulumi config set --secret k8s-ha:sshPrivateKey < KEY)\n' "$tag" >&2
        else
            printf '%s: error: cannot read k8s-ha:sshPrivateKey: %s\n' "$tag" "$(tail -n 3 "$work/key.err")" >&2
        fi
        return 1
    fi
    # ssh reads a key only with its final newline, which a stack config value may lack.
    if [[ -n $(tail -c 1 "$work/key") ]]; then printf '\n' >>"$work/key"; fi
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
const [file, knownOut, hostsOut, tag] = process.argv.slice(1);
const cfg = JSON.parse(require("fs").readFileSync(file, "utf8"));
const value = (k) => { const e = cfg[`k8s-ha:${k}`]; return e ? (e.objectValue ?? (() => { try { return JSON.parse(e.value); } catch { return e.value; } })()) : undefined; };
const hosts = value("hosts") ?? {};
const user = value("sshUser") ?? "root", port = Number(value("sshPort") ?? 22);
const known = [], list = [];
for (const [name, h] of Object.entries(hosts)) {
    const p = Number(h.port ?? port);
    if (!h.hostKey) { console.error(`${tag}: ${name} has no pinned hostKey: skipped`); continue; }
    known.push(`${p === 22 ? h.address : `[${h.address}]:${p}`} ${h.hostKey.trim().split(/\s+/).slice(0, 2).join(" ")}`);
    list.push([name, h.address, p, h.user ?? user, (h.roles ?? []).join(",") || "-"].join(" "));
}
require("fs").writeFileSync(knownOut, known.join("\n") + "\n");
require("fs").writeFileSync(hostsOut, list.join("\n") + "\n");
' "$work/config.json" "$work/known_hosts" "$work/hosts" "$tag"
}

on_host() {
    local name=$1 address port user sudo=""
    shift
    read -r _ address port user _ < <(awk -v n="$name" '$1 == n' "$STACK_HOSTS_WORK/hosts")
    [[ -n ${address:-} ]] || { printf 'no host %s in the stack (or it has no pinned key)\n' "$name" >&2; return 1; }
    [[ $user == root ]] || sudo="sudo -n "
    ssh -i "$STACK_HOSTS_WORK/key" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$STACK_HOSTS_WORK/known_hosts" \
        -o ConnectTimeout=10 -p "$port" "$user@$address" "$sudo$*"
}

# hosts_with_role ROLE: the names of the stack's hosts with that role, in the config's order.
hosts_with_role() { awk -v r="$1" '{ n = split($5, a, ","); for (i = 1; i <= n; i++) if (a[i] == r) print $1 }' "$STACK_HOSTS_WORK/hosts"; }

# host_address NAME
host_address() { awk -v n="$1" '$1 == n { print $2 }' "$STACK_HOSTS_WORK/hosts"; }

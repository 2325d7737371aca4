#!/usr/bin/env bash
# Runs a pulumi command on a stack of this project with the local toolchain and a local file backend:
#   bash scripts/pulumi.sh up --yes | preview | destroy --yes | stack output ... | config set ...
#
# The dev stack targets the lab. Its config is the tracked Pulumi.dev.yaml plus what only this
# machine's lab knows: the lab's SSH key (a secret) and each host's pinned host key. Those never go
# into the tracked file: the stack's effective config is a copy of it in .tools/ (K8S_HA_STACK_CONFIG),
# made anew whenever Pulumi.dev.yaml changes, and passed to pulumi as --config-file. `config set`
# through this script edits that copy; edit Pulumi.dev.yaml itself for changes meant to stay.
# Other stacks (K8S_HA_STACK) use their own Pulumi.<stack>.yaml as usual.
#
# Settings: K8S_HA_STACK (default dev); PULUMI_BACKEND_URL (default file://.tools/state);
# K8S_HA_STACK_CONFIG (the dev stack's effective config, default .tools/Pulumi.dev.yaml);
# K8S_HA_LAB_SYNC=0 skips copying the lab's keys (a timed run that knows they are current).
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=${K8S_HA_STACK:-dev}
TOOLS=$ROOT/.tools
TRACKED=$ROOT/Pulumi.$STACK.yaml
EFFECTIVE=${K8S_HA_STACK_CONFIG:-$TOOLS/Pulumi.$STACK.yaml}

die() {
    echo "pulumi.sh: $*" >&2
    exit 1
}

[[ -f $TOOLS/env.sh ]] || die "no toolchain yet; run: npm run toolchain"
# shellcheck source=/dev/null
source "$TOOLS/env.sh"
command -v pulumi >/dev/null || die "pulumi is not on PATH after sourcing $TOOLS/env.sh; run: npm run toolchain"

# The dev stack keeps its state and its passphrase in .tools/ (never committed).
mkdir -p "$TOOLS/state"
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$TOOLS/state}
if [[ -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
    if [[ ! -s $TOOLS/passphrase ]]; then
        (umask 077 && head -c 32 /dev/urandom | base64 >"$TOOLS/passphrase")
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE=$TOOLS/passphrase
fi
cd "$ROOT"
[[ -d node_modules/@pulumi/pulumi ]] || npm ci --no-audit --no-fund

lab_stack() { [[ $STACK == dev && -f $TOOLS/lab/id_ed25519 && -f $TOOLS/lab/hostkeys.json ]]; }

# salt_line FILE: the passphrase provider's `encryptionsalt:` line of a stack config file.
salt_line() { grep -m1 '^encryptionsalt:' "$1" 2>/dev/null || true; }

# select_stack_keeping_tracked_file: `stack select --create` rewrites the stack's config file (it
# adds the passphrase salt of a new stack and reformats values): the tracked file gets its own bytes
# back, and a new salt is printed for the effective config.
select_stack_keeping_tracked_file() {
    local copy
    copy=$(mktemp)
    cp -p "$TRACKED" "$copy"
    pulumi stack select --create "$STACK" >/dev/null
    salt_line "$TRACKED"
    cmp -s "$copy" "$TRACKED" || cp -p "$copy" "$TRACKED"
    rm -f "$copy"
}

# prepare_effective_config NEW_SALT: the tracked file plus the salt of this backend's stack, made
# anew when the tracked file or the salt changed.
prepare_effective_config() {
    local salt=$1 source_sum
    [[ -n $salt ]] || salt=$(salt_line "$EFFECTIVE")
    source_sum=$(sha256sum "$TRACKED" | cut -d' ' -f1)
    if [[ ! -f $EFFECTIVE || $(cat "$EFFECTIVE.source" 2>/dev/null) != "$source_sum" || $(salt_line "$EFFECTIVE") != "$salt" ]]; then
        mkdir -p "$(dirname "$EFFECTIVE")"
        {
            printf '# The effective config of the %s stack: %s plus the lab'"'"'s keys (scripts/pulumi.sh).\n' "$STACK" "${TRACKED#"$ROOT"/}"
            cat "$TRACKED"
            if [[ -n $salt ]]; then printf '%s\n' "$salt"; fi
        } >"$EFFECTIVE.tmp"
        mv "$EFFECTIVE.tmp" "$EFFECTIVE"
        printf '%s\n' "$source_sum" >"$EFFECTIVE.source"
    fi
}

# sync_lab_config: copies the lab's key and the host keys of the stack's hosts into the effective
# config when they differ (one `config` read; a write only for what changed).
sync_lab_config() {
    local key=$TOOLS/lab/id_ed25519 hostkeys=$TOOLS/lab/hostkeys.json name want have
    have=$(pulumi config get --config-file "$EFFECTIVE" k8s-ha:sshPrivateKey 2>/dev/null || true)
    if [[ $have != "$(cat "$key")" ]]; then
        pulumi config set --config-file "$EFFECTIVE" --secret k8s-ha:sshPrivateKey <"$key"
        echo "pulumi.sh: set k8s-ha:sshPrivateKey from the lab key" >&2
    fi
    # shellcheck disable=SC2016 # JavaScript, not shell
    pulumi config --config-file "$EFFECTIVE" --json | node -e '
        const cfg = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const keys = require(process.argv[1]);
        const entry = cfg["k8s-ha:hosts"];
        const hosts = entry ? (entry.objectValue ?? JSON.parse(entry.value)) : {};
        for (const [name, host] of Object.entries(hosts)) {
            if (keys[name] && host.hostKey !== keys[name]) console.log(`${name} ${keys[name]}`);
        }
    ' "$hostkeys" | while read -r name want; do
        pulumi config set --config-file "$EFFECTIVE" --path "k8s-ha:hosts.$name.hostKey" "$want"
        echo "pulumi.sh: pinned the host key of $name" >&2
    done
}

args=("$@")
if [[ $STACK == dev ]]; then
    # With or without the lab: the tracked file is never written to.
    [[ -f $TRACKED ]] || die "no $TRACKED"
    prepare_effective_config "$(select_stack_keeping_tracked_file)"
    if lab_stack && [[ ${K8S_HA_LAB_SYNC:-1} == 1 ]]; then sync_lab_config; fi
    # The commands that read the stack's config get the effective one.
    case ${1:-} in
        up | preview | destroy | refresh | config | import | watch) args=("$1" --config-file "$EFFECTIVE" "${@:2}") ;;
    esac
else
    pulumi stack select --create "$STACK" >/dev/null
fi
exec pulumi "${args[@]}"

#!/usr/bin/env bash
# Runs a pulumi command on a stack of this project with the local toolchain and a local file backend:
#   bash scripts/pulumi.sh up --yes | preview | destroy --yes | stack output ... | config set ...
#
# The dev stack targets the lab. Its config is the tracked Pulumi.dev.yaml plus what only this
# machine knows: the lab's SSH key (a secret), each host's pinned host key, and the sha256 pins of
# the release files built here (k8s-ha:checksums, which change with every build: read from the sum
# files beside the files under $K8S_HA_CACHE/artifacts/www on this disk, never over http). Those
# never go into the tracked file: the stack's effective config is a copy of it in .tools/
# (K8S_HA_STACK_CONFIG), made anew whenever Pulumi.dev.yaml changes, and passed to pulumi as
# --config-file. `config set` through this script edits that copy; edit Pulumi.dev.yaml itself for
# changes meant to stay.
# Other stacks (K8S_HA_STACK) use their own Pulumi.<stack>.yaml as usual.
#
# Settings: K8S_HA_STACK (default dev); PULUMI_BACKEND_URL (default file://.tools/state);
# K8S_HA_STACK_CONFIG (the dev stack's effective config, default .tools/Pulumi.dev.yaml);
# K8S_HA_LAB_SYNC=0 skips copying the lab's keys and the artifacts' pins (a timed run that knows
# they are current); K8S_HA_ARTIFACTS_WWW (default $K8S_HA_CACHE/artifacts/www, K8S_HA_CACHE
# default /var/cache/k8s-ha) holds the built release files and their sum files.
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
# The release files built on this machine (scripts/artifacts.sh), which the lab serves.
ARTIFACTS_WWW=${K8S_HA_ARTIFACTS_WWW:-${K8S_HA_CACHE:-/var/cache/k8s-ha}/artifacts/www}
lab_artifacts() { [[ $STACK == dev && -d $ARTIFACTS_WWW ]]; }

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
            printf '# The effective config of the %s stack: %s plus the lab'"'"'s keys and the artifacts'"'"' pins (scripts/pulumi.sh).\n' "$STACK" "${TRACKED#"$ROOT"/}"
            cat "$TRACKED"
            if [[ -n $salt ]]; then printf '%s\n' "$salt"; fi
        } >"$EFFECTIVE.tmp"
        mv "$EFFECTIVE.tmp" "$EFFECTIVE"
        printf '%s\n' "$source_sum" >"$EFFECTIVE.source"
    fi
}

# sync_lab_config: copies what only this machine knows into the effective config when it differs,
# with one `config` read and a write only for what changed: the lab's key and the host keys of the
# stack's hosts (with the lab up), and the pins of the built artifacts at the stack's versions
# (`scripts/artifacts.sh pins`: from their sum files on this disk), in one write for all of them.
# Pins the config has for other files or versions stay.
sync_lab_config() {
    local key=$TOOLS/lab/id_ed25519 hostkeys=$TOOLS/lab/hostkeys.json pins kind name want have line
    local set_pins=() changes=()
    if lab_stack; then
        have=$(pulumi config get --config-file "$EFFECTIVE" k8s-ha:sshPrivateKey 2>/dev/null || true)
        if [[ $have != "$(cat "$key")" ]]; then
            pulumi config set --config-file "$EFFECTIVE" --secret k8s-ha:sshPrivateKey <"$key"
            echo "pulumi.sh: set k8s-ha:sshPrivateKey from the lab key" >&2
        fi
    else
        hostkeys=/dev/null
    fi
    pins=$(mktemp)
    if lab_artifacts; then
        # The versions as the effective config gives them (a `config set` through this script may
        # have changed one); a missing sum file is named on stderr, and its pin left as it is.
        K8S_HA_ARTIFACTS_WWW=$ARTIFACTS_WWW K8S_HA_STACK_FILE=$EFFECTIVE bash "$ROOT/scripts/artifacts.sh" pins >"$pins" || true
    fi
    # shellcheck disable=SC2016 # JavaScript, not shell
    mapfile -t changes < <(pulumi config --config-file "$EFFECTIVE" --json | node -e '
        const fs = require("fs");
        const cfg = JSON.parse(fs.readFileSync(0, "utf8"));
        const value = (k) => (cfg[k] ? (cfg[k].objectValue ?? JSON.parse(cfg[k].value)) : {});
        const keys = JSON.parse(fs.readFileSync(process.argv[1], "utf8") || "{}");
        for (const [name, host] of Object.entries(value("k8s-ha:hosts"))) {
            if (keys[name] && host.hostKey !== keys[name]) console.log(`hostkey ${name} ${keys[name]}`);
        }
        const have = value("k8s-ha:checksums");
        for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n")) {
            const m = /^  ([a-z0-9.@-]+): "([0-9a-f]{64})"$/.exec(line);
            if (m && have[m[1]] !== m[2]) console.log(`pin ${m[1]} ${m[2]}`);
        }
    ' "$hostkeys" "$pins")
    rm -f "$pins"
    for line in "${changes[@]}"; do
        read -r kind name want <<<"$line"
        case $kind in
            hostkey)
                pulumi config set --config-file "$EFFECTIVE" --path "k8s-ha:hosts.$name.hostKey" "$want"
                echo "pulumi.sh: pinned the host key of $name" >&2
                ;;
            pin) set_pins+=(--plaintext "k8s-ha:checksums[\"$name\"]=$want") ;;
        esac
    done
    if ((${#set_pins[@]} > 0)); then
        pulumi config set-all --config-file "$EFFECTIVE" --path "${set_pins[@]}"
        echo "pulumi.sh: pinned the sha256 of $((${#set_pins[@]} / 2)) release files from the sum files in $ARTIFACTS_WWW" >&2
    fi
}

args=("$@")
if [[ $STACK == dev ]]; then
    # With or without the lab: the tracked file is never written to.
    [[ -f $TRACKED ]] || die "no $TRACKED"
    prepare_effective_config "$(select_stack_keeping_tracked_file)"
    if { lab_stack || lab_artifacts; } && [[ ${K8S_HA_LAB_SYNC:-1} == 1 ]]; then sync_lab_config; fi
    # The commands that read the stack's config get the effective one.
    case ${1:-} in
        up | preview | destroy | refresh | config | import | watch) args=("$1" --config-file "$EFFECTIVE" "${@:2}") ;;
    esac
else
    pulumi stack select --create "$STACK" >/dev/null
fi
exec pulumi "${args[@]}"

#!/usr/bin/env bash
# Runs a pulumi command on a stack of this project with the local toolchain:
#   bash scripts/pulumi.sh [--stack NAME] up --yes | preview | destroy --yes | stack output ... | config set ...
#
# The stack: --stack NAME (or -s NAME, anywhere before a `--`), else K8S_HA_STACK, else dev. Never
# the stack `pulumi stack select` left selected: `npm run destroy` passes --yes.
# The backend, in pulumi's own order: PULUMI_BACKEND_URL; else the backend.url of Pulumi.yaml; else
# the one `pulumi login` stored (credentials.json in PULUMI_CREDENTIALS_PATH, PULUMI_HOME or
# ~/.pulumi, read as a file: `pulumi whoami` would log in to Pulumi Cloud when nobody is logged in).
# With none of them the dev stack uses the lab's file backend .tools/state; any other stack is an
# error (run `pulumi login`). The script then exports PULUMI_BACKEND_URL as chosen.
# A stack that the backend lacks is an error naming the stacks it has, except the dev stack on a
# file backend (the lab's, or the fresh one of an e2e or bench run), which is created on first use.
# The generated passphrase .tools/passphrase is the default secrets passphrase of the dev stack on a
# file backend only (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE win).
#
# The dev stack targets the lab. Its config is the tracked Pulumi.dev.yaml plus what only this
# machine knows: the lab's SSH key (a secret), each host's pinned host key, and the sha256 pins of
# the release files built here (k8s-ha:checksums, which change with every build: read from the sum
# files beside the files under $K8S_HA_CACHE/artifacts/www on this disk, never over http). Those
# never go into the tracked file: the stack's effective config is a copy of it in .tools/
# (K8S_HA_STACK_CONFIG), made anew whenever Pulumi.dev.yaml changes, and passed to pulumi as
# --config-file. `config set` through this script edits that copy; edit Pulumi.dev.yaml itself for
# changes meant to stay.
# Other stacks use their own Pulumi.<stack>.yaml as usual.
#
# Settings: K8S_HA_STACK (default dev); PULUMI_BACKEND_URL (see above);
# K8S_HA_STACK_CONFIG (the dev stack's effective config, default .tools/Pulumi.dev.yaml);
# K8S_HA_LAB_SYNC=0 skips copying the lab's keys and the artifacts' pins (a timed run that knows
# they are current); K8S_HA_ARTIFACTS_WWW (default $K8S_HA_CACHE/artifacts/www, K8S_HA_CACHE
# default /var/cache/k8s-ha) holds the built release files and their sum files.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=$ROOT/.tools

die() {
    echo "pulumi.sh: $*" >&2
    exit 1
}

STACK=${K8S_HA_STACK:-dev}
args=()
while (($# > 0)); do
    case $1 in
        --stack | -s)
            (($# >= 2)) || die "$1 needs a stack name"
            STACK=$2
            shift 2
            ;;
        --stack=*)
            STACK=${1#--stack=}
            shift
            ;;
        --)
            args+=("$@")
            break
            ;;
        *)
            args+=("$1")
            shift
            ;;
    esac
done
[[ -n $STACK ]] || die "an empty stack name"
# `stack init NAME` is about the stack it makes: its backend is chosen for NAME.
if [[ ${args[0]:-} == stack && ${args[1]:-} == init && -n ${args[2]:-} && ${args[2]} != -* ]]; then STACK=${args[2]}; fi
TRACKED=$ROOT/Pulumi.$STACK.yaml
EFFECTIVE=${K8S_HA_STACK_CONFIG:-$TOOLS/Pulumi.$STACK.yaml}

[[ -f $TOOLS/env.sh ]] || die "no toolchain yet; run: npm run toolchain"
# shellcheck source=/dev/null
source "$TOOLS/env.sh"
command -v pulumi >/dev/null || die "pulumi is not on PATH after sourcing $TOOLS/env.sh; run: npm run toolchain"
cd "$ROOT"
[[ -d node_modules/@pulumi/pulumi ]] || npm ci --no-audit --no-fund

# user_backend: "URL<TAB>where it came from" of the backend the user chose, in pulumi's order
# (PULUMI_BACKEND_URL, Pulumi.yaml's backend.url, the stored login); nothing when none.
user_backend() {
    if [[ -n ${PULUMI_BACKEND_URL:-} ]]; then
        printf '%s\tPULUMI_BACKEND_URL\n' "$PULUMI_BACKEND_URL"
        return
    fi
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
const fs = require("fs");
const [project, yamlModule, creds] = process.argv.slice(1);
let url = "";
try { url = require(yamlModule).parse(fs.readFileSync(project, "utf8"))?.backend?.url ?? ""; } catch {}
if (url) { console.log(`${url}\tthe backend.url of Pulumi.yaml`); process.exit(0); }
try { url = JSON.parse(fs.readFileSync(creds, "utf8")).current ?? ""; } catch {}
if (url) console.log(`${url}\tpulumi login`);
' "$ROOT/Pulumi.yaml" "$ROOT/node_modules/yaml" "${PULUMI_CREDENTIALS_PATH:-${PULUMI_HOME:-$HOME/.pulumi}}/credentials.json"
}

# shown URL: the backend's URL with any password in it masked (user:***@).
shown() { sed -E 's#^([a-z0-9+]+://[^/:@]*):[^/@]*@#\1:***@#' <<<"$1"; }

IFS=$'\t' read -r BACKEND BACKEND_FROM < <(user_backend) || true
if [[ -z ${BACKEND:-} ]]; then
    [[ $STACK == dev ]] ||
        die "no backend for the stack $STACK: PULUMI_BACKEND_URL is unset and nobody ran \`pulumi login\` (the lab's file backend .tools/state is the dev stack's alone). Log in to your team's backend (pulumi login; s3://BUCKET; postgres://...; README: Team backends) or set PULUMI_BACKEND_URL"
    mkdir -p "$TOOLS/state"
    BACKEND=file://$TOOLS/state BACKEND_FROM="the lab's default for the dev stack"
fi
export PULUMI_BACKEND_URL=$BACKEND
# The dev stack is made on first use, and gets the generated passphrase, on a file backend only.
dev_on_file_backend() { [[ $STACK == dev && $BACKEND == file://* ]]; }
if dev_on_file_backend && [[ -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
    if [[ ! -s $TOOLS/passphrase ]]; then
        (umask 077 && head -c 32 /dev/urandom | base64 >"$TOOLS/passphrase")
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE=$TOOLS/passphrase
fi

# missing_stack: the error for a stack the backend lacks, with the stacks it has.
missing_stack() {
    local names
    # shellcheck disable=SC2016 # JavaScript, not shell
    names=$(pulumi stack ls --json --non-interactive 2>/dev/null |
        node -e 'const l = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]"); process.stdout.write(l.map((s) => s.name).join(", "))' 2>/dev/null) || names=""
    local there="it has no stack of this project."
    [[ -z $names ]] || there="the stacks of this project there: $names."
    die "no stack $STACK in the backend $(shown "$BACKEND") ($BACKEND_FROM); $there Pick one with --stack NAME (or K8S_HA_STACK=NAME), or make it: pulumi stack init $STACK, then write its Pulumi.$STACK.yaml (README: Stacks per environment)"
}

# select_stack [--create]: selects the stack, or stops with missing_stack.
# shellcheck disable=SC2120 # select_stack_keeping_tracked_file passes --create (through keeping_tracked_file)
select_stack() {
    local err
    if err=$(pulumi stack select --non-interactive "$@" "$STACK" 2>&1 >/dev/null); then return 0; fi
    [[ $err != *"no stack named"* ]] || missing_stack
    die "cannot select the stack $STACK in the backend $(shown "$BACKEND") ($BACKEND_FROM): $err"
}

lab_stack() { [[ $STACK == dev && -f $TOOLS/lab/id_ed25519 && -f $TOOLS/lab/hostkeys.json ]]; }
# The release files built on this machine (scripts/artifacts.sh), which the lab serves.
ARTIFACTS_WWW=${K8S_HA_ARTIFACTS_WWW:-${K8S_HA_CACHE:-/var/cache/k8s-ha}/artifacts/www}
lab_artifacts() { [[ $STACK == dev && -d $ARTIFACTS_WWW ]]; }

# salt_line FILE: the passphrase provider's `encryptionsalt:` line of a stack config file.
salt_line() { grep -m1 '^encryptionsalt:' "$1" 2>/dev/null || true; }

# keeping_tracked_file CMD...: runs CMD, which may rewrite the stack's config file (`stack select
# --create` and `stack init` add a new stack's passphrase salt and reformat values); the tracked
# file gets its own bytes back, and on success the salt CMD wrote is printed for the effective config.
keeping_tracked_file() {
    local copy rc=0
    copy=$(mktemp)
    cp -p "$TRACKED" "$copy"
    # CMD's own output goes to stderr: stdout is the salt.
    ("$@") >&2 || rc=$?
    ((rc != 0)) || salt_line "$TRACKED"
    cmp -s "$copy" "$TRACKED" || cp -p "$copy" "$TRACKED"
    rm -f "$copy"
    return "$rc"
}

# select_stack_keeping_tracked_file: selects the stack, the tracked file kept; only on a file
# backend is a missing dev stack created.
select_stack_keeping_tracked_file() {
    if dev_on_file_backend; then keeping_tracked_file select_stack --create; else keeping_tracked_file select_stack; fi
}

# prepare_effective_config NEW_SALT: the tracked file plus the salt of this backend's stack, made
# anew when the tracked file or the salt changed.
prepare_effective_config() {
    local salt=$1 source_sum
    [[ -n $salt ]] || salt=$(salt_line "$EFFECTIVE")
    [[ -n $salt ]] || salt=$(salt_line "$TRACKED")
    source_sum=$(sha256sum "$TRACKED" | cut -d' ' -f1)
    if [[ ! -f $EFFECTIVE || $(cat "$EFFECTIVE.source" 2>/dev/null) != "$source_sum" || $(salt_line "$EFFECTIVE") != "$salt" ]]; then
        mkdir -p "$(dirname "$EFFECTIVE")"
        {
            printf '# The effective config of the %s stack: %s plus the lab'"'"'s keys and the artifacts'"'"' pins (scripts/pulumi.sh).\n' "$STACK" "${TRACKED#"$ROOT"/}"
            # One salt: the stack's (a tracked file that holds one too gives it to the effective copy).
            grep -v '^encryptionsalt:' "$TRACKED" || true
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

# `stack init` of the dev stack (on a backend other than the lab's file one, where the first use
# makes it): pulumi writes the new stack's passphrase salt into the stack's config file; the tracked
# file gets its own bytes back, and the salt goes to the effective config.
if [[ $STACK == dev && "${args[0]:-} ${args[1]:-}" == "stack init" ]]; then
    [[ -f $TRACKED ]] || die "no $TRACKED"
    salt=$(keeping_tracked_file pulumi "${args[@]}") || exit $?
    prepare_effective_config "$salt"
    exit 0
fi
# Commands about the backend or its list of stacks select none.
case "${args[0]:-} ${args[1]:-}" in
    "stack ls" | "stack init" | "stack select" | "stack rm" | login* | logout* | whoami* | version* | plugin* | about*)
        exec pulumi "${args[@]}"
        ;;
esac
if [[ $STACK == dev ]]; then
    # With or without the lab: the tracked file is never written to.
    [[ -f $TRACKED ]] || die "no $TRACKED"
    salt=$(select_stack_keeping_tracked_file) || exit 1
    prepare_effective_config "$salt"
    if { lab_stack || lab_artifacts; } && [[ ${K8S_HA_LAB_SYNC:-1} == 1 ]]; then sync_lab_config; fi
    # The commands that read the stack's config get the effective one.
    case ${args[0]:-} in
        up | preview | destroy | refresh | config | import | watch) args=("${args[0]}" --config-file "$EFFECTIVE" "${args[@]:1}") ;;
    esac
else
    select_stack
fi
exec pulumi "${args[@]}"

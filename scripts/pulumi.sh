#!/usr/bin/env bash
# Runs a pulumi command on the dev stack with the local toolchain and a local file backend:
#   bash scripts/pulumi.sh up --yes | preview | destroy --yes | stack output ...
# First it makes sure the stack exists and carries the lab's SSH key (secret) and pinned host keys.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=${K8S_HA_STACK:-dev}
TOOLS=$ROOT/.tools

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

pulumi stack select --create "$STACK" >/dev/null

# sync_lab_config: copies the lab's key and host keys into the stack config when they differ.
sync_lab_config() {
    local key=$TOOLS/lab/id_ed25519 hostkeys=$TOOLS/lab/hostkeys.json name want have
    [[ $STACK == dev && -f $key && -f $hostkeys ]] || return 0
    have=$(pulumi config get k8s-ha:sshPrivateKey 2>/dev/null || true)
    if [[ $have != "$(cat "$key")" ]]; then
        pulumi config set --secret k8s-ha:sshPrivateKey <"$key"
        echo "pulumi.sh: set k8s-ha:sshPrivateKey from the lab key" >&2
    fi
    for name in $(node -e 'for (const k of Object.keys(require(process.argv[1]))) console.log(k)' "$hostkeys"); do
        want=$(node -e 'console.log(require(process.argv[1])[process.argv[2]])' "$hostkeys" "$name")
        have=$(pulumi config get --path "k8s-ha:hosts.$name.hostKey" 2>/dev/null || true)
        if [[ $have != "$want" ]]; then
            pulumi config set --path "k8s-ha:hosts.$name.hostKey" "$want"
            echo "pulumi.sh: pinned the host key of $name" >&2
        fi
    done
}
sync_lab_config

exec pulumi "$@"

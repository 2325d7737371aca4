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

# sync_lab_config: copies the lab's key and the host keys of the stack's hosts into the stack
# config when they differ (one `config` read; a write only for what changed).
sync_lab_config() {
    local key=$TOOLS/lab/id_ed25519 hostkeys=$TOOLS/lab/hostkeys.json name want have
    [[ $STACK == dev && -f $key && -f $hostkeys && ${K8S_HA_LAB_SYNC:-1} == 1 ]] || return 0
    have=$(pulumi config get k8s-ha:sshPrivateKey 2>/dev/null || true)
    if [[ $have != "$(cat "$key")" ]]; then
        pulumi config set --secret k8s-ha:sshPrivateKey <"$key"
        echo "pulumi.sh: set k8s-ha:sshPrivateKey from the lab key" >&2
    fi
    # shellcheck disable=SC2016 # JavaScript, not shell
    pulumi config --json | node -e '
        const cfg = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const keys = require(process.argv[1]);
        const entry = cfg["k8s-ha:hosts"];
        const hosts = entry ? (entry.objectValue ?? JSON.parse(entry.value)) : {};
        for (const [name, host] of Object.entries(hosts)) {
            if (keys[name] && host.hostKey !== keys[name]) console.log(`${name} ${keys[name]}`);
        }
    ' "$hostkeys" | while read -r name want; do
        pulumi config set --path "k8s-ha:hosts.$name.hostKey" "$want"
        echo "pulumi.sh: pinned the host key of $name" >&2
    done
}
sync_lab_config

exec pulumi "$@"

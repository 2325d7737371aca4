#!/usr/bin/env bash
# The stack's kubeconfig output, written to a file only you can read (npm run kubeconfig):
#   bash scripts/kubeconfig.sh [--stack NAME] [--out PATH]
# The stack: --stack NAME (or -s NAME, --stack=NAME), else K8S_HA_STACK, else dev, on the backend
# scripts/pulumi.sh picks. The file: --out PATH (or -o PATH, --out=PATH), else ./<stack>.kubeconfig;
# a relative path is taken from the folder npm was run in (INIT_CWD), else the current one.
# The file is made 0600 under umask 077 and filled from pulumi's stdout, so the secret is never
# readable by others, not even while it is written, and never in a command's arguments. It replaces
# PATH only once it holds a kubeconfig. Its cluster, user and context are all k8s-ha-<stack>, so the
# files of several stacks merge: KUBECONFIG=dev.kubeconfig:prod.kubeconfig kubectl config view --flatten.
set -Eeuo pipefail
umask 077
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FROM=${INIT_CWD:-$PWD}
cd "$ROOT"
die() {
    printf 'kubeconfig: %s\n' "$*" >&2
    exit 1
}
usage="usage: kubeconfig.sh [--stack NAME] [--out PATH]"
# shellcheck source=scripts/stack-hosts.sh
source scripts/stack-hosts.sh
stack_options "$usage" "$@"
OUT=""
set -- "${STACK_REST[@]}"
while (($# > 0)); do
    case $1 in
    --out | -o)
        if (($# < 2)) || [[ -z $2 ]]; then die "$usage"; fi
        OUT=$2
        shift
        ;;
    --out=*) OUT=${1#--out=} ;;
    *) die "$usage" ;;
    esac
    shift
done
STACK=${K8S_HA_STACK:-dev}
[[ -n $STACK ]] || die "an empty stack name"
[[ -n $OUT ]] || OUT=$STACK.kubeconfig
[[ $OUT == /* ]] || OUT=$FROM/$OUT
DIR=$(dirname "$OUT")
[[ -d $DIR ]] || die "no folder $DIR to write $(basename "$OUT") in"
[[ ! -d $OUT ]] || die "$OUT is a folder; name a file with --out PATH"

# Beside the target, so that the move into place is a rename; mktemp makes it 0600 in any case.
TMP=$(mktemp "$DIR/.$(basename "$OUT").XXXXXX")
ERR=$(mktemp)
trap 'rm -f "$TMP" "$ERR"' EXIT
if ! bash scripts/pulumi.sh --stack "$STACK" stack output kubeconfig --show-secrets >"$TMP" 2>"$ERR"; then
    if grep -q "does not have output property 'kubeconfig'" "$ERR"; then
        die "the stack $STACK has no kubeconfig output: it has not been brought up yet (or its last up stopped before the end); run: npm run up -- --stack $STACK"
    fi
    # pulumi.sh's own errors (a missing stack, with the stacks there; no backend) are one line.
    if line=$(grep -m1 '^pulumi\.sh: ' "$ERR"); then die "${line#pulumi.sh: }"; fi
    die "cannot read the kubeconfig output of the stack $STACK: $(grep -v '^[[:space:]]*$' "$ERR" | tail -n 1)"
fi
if ! grep -q '^kind: Config$' "$TMP" || ! grep -q '^current-context: ' "$TMP"; then
    die "the kubeconfig output of the stack $STACK is not a kubeconfig (no kind: Config and current-context); nothing written"
fi
chmod 0600 "$TMP"
mv -f "$TMP" "$OUT"
context=$(sed -n 's/^current-context: //p' "$OUT")
printf 'kubeconfig: wrote %s (0600), context %s; try: kubectl --kubeconfig %q get nodes\n' "$OUT" "$context" "$OUT" >&2

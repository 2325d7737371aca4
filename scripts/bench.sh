#!/usr/bin/env bash
# npm run bench: how long k8s-ha takes as the cluster grows, and how much memory.
#   bash scripts/bench.sh [preview] [lab] [report]      (default: all three)
#   preview  `pulumi preview` of generated stacks of K8S_HA_BENCH_HOSTS hosts (default 10 30 100 300
#            1000: 3 control-plane, 2 lb, 1 mirror, 1 nfs, the rest workers; no SSH happens in a
#            preview, so no hosts are needed), timed, with the peak memory of the engine and of the
#            Node.js program; and, up to K8S_HA_BENCH_STATE_HOSTS hosts (default 100), a `--json`
#            preview whose planned state gives the size the checkpoint would have.
#   lab      on the running lab (npm run lab -- up), K8S_HA_BENCH_LAB_ROUNDS rounds (default 3) of:
#            `up` from bare hosts, a no-op `up`, add the spare worker w3, remove it, `destroy`;
#            with the size of the checkpoint after `up`. Its own state in bench/.work/lab-state.
#   report   bench/results.json, bench/results.md (the README's table) and bench/chart.png.
# Raw figures go to bench/raw/ (kept between runs, so preview and lab can run at different times).
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH=$ROOT/bench
RAW=$BENCH/raw
WORK=$BENCH/.work
HOSTS=${K8S_HA_BENCH_HOSTS:-10 30 100 300 1000}
STATE_HOSTS=${K8S_HA_BENCH_STATE_HOSTS:-100}
ROUNDS=${K8S_HA_BENCH_LAB_ROUNDS:-3}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[[ -f .tools/env.sh ]] || die "no toolchain yet; run: bash scripts/setup.sh"
# shellcheck source=/dev/null
source .tools/env.sh
NODE_BIN=${K8S_HA_CACHE:-/var/cache/k8s-ha}/node/node_modules/node/bin
if [[ -x $NODE_BIN/node ]]; then export PATH=$NODE_BIN:$PATH; fi
mkdir -p "$RAW" "$WORK"
npx tsc -p . --outDir bin

# bench_stack N: creates stack bench-N in the bench backend with its generated config.
bench_stack() {
    local n=$1 config=$WORK/Pulumi.bench-$1.yaml salt
    node bin/test/bench/generate.js "$n" >"$config.new" || die "could not generate a stack of $n hosts"
    pulumi stack select --create "bench-$n" >/dev/null
    # `stack select --create` puts the new stack's passphrase salt into Pulumi.bench-N.yaml at the
    # project root; the salt goes into the generated config and that file goes away.
    salt=$(grep -m1 '^encryptionsalt:' "Pulumi.bench-$n.yaml" 2>/dev/null || grep -m1 '^encryptionsalt:' "$config" 2>/dev/null || true)
    rm -f "Pulumi.bench-$n.yaml"
    { [[ -z $salt ]] || printf '%s\n' "$salt"; cat "$config.new"; } >"$config"
    rm -f "$config.new"
    pulumi config set --secret --stack "bench-$n" --config-file "$config" k8s-ha:sshPrivateKey bench-has-no-key
}

run_preview() {
    export PULUMI_BACKEND_URL=file://$WORK/state PULUMI_CONFIG_PASSPHRASE=bench-stacks-hold-no-secrets
    mkdir -p "$WORK/state"
    local n config
    for n in $HOSTS; do
        bench_stack "$n"
        config=$WORK/Pulumi.bench-$n.yaml
        say "preview of $n hosts"
        node bin/test/bench/measure.js "$RAW/preview-$n.measure.json" -- \
            pulumi preview --stack "bench-$n" --config-file "$config" --non-interactive --suppress-progress \
            >"$RAW/preview-$n.log" 2>&1 || { tail -n 20 "$RAW/preview-$n.log" >&2; die "preview of $n hosts failed"; }
        say "  $(node -p "const m = require('$RAW/preview-$n.measure.json'); m.seconds + ' s, peak ' + m.peakMiB.total + ' MiB (engine ' + m.peakMiB.engine + ', program ' + m.peakMiB.program + ')'")"
        if ((n <= STATE_HOSTS)); then
            pulumi preview --stack "bench-$n" --config-file "$config" --non-interactive --json >"$RAW/preview-$n.json" 2>"$WORK/preview-$n.json.log" ||
                die "preview --json of $n hosts failed (see $WORK/preview-$n.json.log)"
        else
            rm -f "$RAW/preview-$n.json"
        fi
    done
}

# lab_step NAME CMD...: one timed engine run of a lab round.
lab_step() {
    local name=$1
    shift
    say "round $ROUND: $name"
    node bin/test/bench/measure.js "$RAW/lab-$ROUND-${name// /-}.measure.json" -- "$@" >>"$WORK/lab-$ROUND.log" 2>&1 ||
        { tail -n 20 "$WORK/lab-$ROUND.log" >&2; die "round $ROUND: $name failed (log $WORK/lab-$ROUND.log)"; }
}

run_lab() {
    [[ -f .tools/lab/hostkeys.json ]] || die "the lab is not up: npm run lab -- up"
    export PULUMI_BACKEND_URL=file://$WORK/lab-state K8S_HA_STACK_CONFIG=$WORK/Pulumi.dev.yaml
    rm -rf "$WORK/lab-state" "$K8S_HA_STACK_CONFIG"
    mkdir -p "$WORK/lab-state"
    rm -f "$RAW"/lab-*.measure.json "$RAW"/lab-*.checkpoint
    bash scripts/pulumi.sh stack >/dev/null
    local pulumi_=(env K8S_HA_LAB_SYNC=0 bash scripts/pulumi.sh)
    for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
        : >"$WORK/lab-$ROUND.log"
        lab_step "up from bare hosts" "${pulumi_[@]}" up --yes --suppress-progress
        stat -c %s "$WORK/lab-state/.pulumi/stacks/k8s-ha/dev.json" >"$RAW/lab-$ROUND.checkpoint"
        lab_step "no-op up" "${pulumi_[@]}" up --yes --skip-preview --expect-no-changes --suppress-progress
        "${pulumi_[@]}" config set --path 'k8s-ha:hosts.w3.address' 10.213.0.33 >/dev/null
        "${pulumi_[@]}" config set --path 'k8s-ha:hosts.w3.roles[0]' worker >/dev/null
        bash scripts/pulumi.sh stack >/dev/null # pins w3's host key, outside the timed step
        lab_step "add a worker" "${pulumi_[@]}" up --yes --suppress-progress
        "${pulumi_[@]}" config rm --path 'k8s-ha:hosts.w3' >/dev/null
        lab_step "remove the worker" "${pulumi_[@]}" up --yes --suppress-progress
        lab_step "destroy" "${pulumi_[@]}" destroy --yes --suppress-progress
    done
}

run_report() {
    node bin/test/bench/report.js "$BENCH"
    if ! command -v gnuplot >/dev/null; then
        say "installing gnuplot-nox (Debian) for the chart"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null || die "apt-get install gnuplot-nox failed"
    fi
    (cd "$BENCH" && gnuplot chart.gp) || die "gnuplot could not draw bench/chart.png"
    say "wrote bench/results.json, bench/results.md and bench/chart.png"
}

(($# > 0)) || set -- preview lab report
for verb in "$@"; do
    case $verb in
        preview) run_preview ;;
        lab) run_lab ;;
        report) run_report ;;
        *) die "unknown part '$verb'; use preview, lab or report" ;;
    esac
done

#!/usr/bin/env bash
# What differs on this host from what k8s-ha's steps installed: sent by scripts/drift.sh over SSH
# (not a step). Reads the records the steps keep in /var/lib/k8s-ha/installed/<step> (lib.sh,
# record_installed) and prints one line per difference, `STEP file PATH edited|missing|mode M (want
# W)` or `STEP unit NAME inactive|failed|…`; nothing when the host is as the steps left it. It
# changes nothing.
set -Eeuo pipefail
dir=${K8SHA_STATE_DIR:-/var/lib/k8s-ha}/installed
[[ -d $dir ]] || exit 0
for rec in "$dir"/*; do
    [[ -f $rec && $rec != *.tmp ]] || continue
    step=$(basename "$rec")
    while read -r kind a b c; do
        case $kind in
        file)
            # a: sha256, b: mode, c: path
            if [[ ! -f $c ]]; then
                echo "$step file $c missing"
            elif [[ $(sha256sum <"$c" | cut -d' ' -f1) != "$a" ]]; then
                echo "$step file $c edited"
            elif [[ $(stat -c %a "$c") != "$b" ]]; then
                echo "$step file $c mode $(stat -c %a "$c") (want $b)"
            fi
            ;;
        unit)
            if ! systemctl is-active -q "$a"; then echo "$step unit $a $(systemctl is-active "$a" || true)"; fi
            ;;
        esac
    done <"$rec"
done

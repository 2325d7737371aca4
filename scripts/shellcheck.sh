#!/usr/bin/env bash
# Runs shellcheck over every shell script of the repository. SHELLCHECK_CACHE (a file; npm test
# sets it) keeps the digest of the last clean run: shellcheck's version, .shellcheckrc and every
# script's path and bytes (in path order: git lists a new file apart until it is added). The same digest again is the same verdict, so the run is skipped.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v shellcheck >/dev/null || { echo "shellcheck: not installed; run: apt-get install -y shellcheck" >&2; exit 1; }
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.sh' .ci/run)
digest=""
if [[ -n ${SHELLCHECK_CACHE:-} ]]; then
    digest=$({ shellcheck --version && cat .shellcheckrc 2>/dev/null && printf '%s\n' "${files[@]}" | LC_ALL=C sort | while read -r f; do printf '%s\n' "$f" && sha256sum <"$f"; done; } | sha256sum | cut -d' ' -f1)
    if [[ -f $SHELLCHECK_CACHE && $(cat "$SHELLCHECK_CACHE") == "$digest" ]]; then
        echo "shellcheck: ${#files[@]} scripts clean (none changed since the last clean run)"
        exit 0
    fi
    rm -f "$SHELLCHECK_CACHE"
fi
shellcheck "${files[@]}"
if [[ -n $digest ]]; then printf '%s\n' "$digest" >"$SHELLCHECK_CACHE"; fi
echo "shellcheck: ${#files[@]} scripts clean"

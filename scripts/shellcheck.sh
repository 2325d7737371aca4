#!/usr/bin/env bash
# Runs shellcheck over every shell script of the repository.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v shellcheck >/dev/null || { echo "shellcheck: not installed; run: apt-get install -y shellcheck" >&2; exit 1; }
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.sh' .ci/run)
shellcheck "${files[@]}"
echo "shellcheck: ${#files[@]} scripts clean"

#!/usr/bin/env bash
# The whole text of every step's delete command: it runs the copy of the step's script that its
# create saved under K8SHA_LIB_DIR/steps/ by its sha256 (K8SHA_SCRIPT), so that the script travels
# once per command, in its create, and a preview of a changed script shows it once.
# Environment: K8SHA_SCRIPT, K8SHA_HOST, K8SHA_LIB_DIR (default /usr/local/lib/k8s-ha).
k8sha_saved=${K8SHA_LIB_DIR:-/usr/local/lib/k8s-ha}/steps/${K8SHA_SCRIPT:?the runner sets K8SHA_SCRIPT}.sh
if [[ -r $k8sha_saved ]]; then exec bash "$k8sha_saved" "$@"; fi
printf 'k8s-ha[%s]: error: %s is missing (the step'\''s create saves it): were k8s-ha'\''s files removed from this host, or the host reinstalled? If the host is gone, remove the resource with pulumi state delete\n' "${K8SHA_HOST:-$(hostname)}" "$k8sha_saved" >&2
exit 1

#!/usr/bin/env bash
# DockerImageMirror, per image named by digest (the add-ons', and containerd's sandbox image pause),
# on the mirror host: resolves the image's tag to the digest of the manifest the mirror serves (a
# pull-through mirror fetches it from its upstream), checks it against the digest the stack pins
# when it pins one, and prints it as stdout's last line. The add-ons and containerd's config then
# name the image by that digest: a tag moved upstream later changes nothing running.
# It runs again only when the image's tag (its version) or the pin changes. It installs nothing.
# Environment: MIRROR_ADDRESS, MIRROR_PORT, IMAGE_PATH (repository on the mirror), IMAGE_TAG,
# IMAGE_DIGEST (the stack's pin, or empty); MIRROR_PUSH (address:port of a preloaded mirror's pushes).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ACCEPT="application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

# fetch_manifest DIR: the manifest's bytes and headers, as the mirror serves them to the nodes.
fetch_manifest() {
    curl -fsS -m 30 --cacert "$REGISTRY_TLS_CA" -H "Accept: $ACCEPT" -D "$1/headers" -o "$1/manifest" \
        "https://$MIRROR_ADDRESS:$MIRROR_PORT/v2/$IMAGE_PATH/manifests/$IMAGE_TAG" 2>"$1/error"
}

create() {
    local dir i got header
    dir=$(mktemp -d)
    for i in 1 2 3; do
        if fetch_manifest "$dir"; then break; fi
        if ((i == 3)); then
            local why
            why=$(cat "$dir/error")
            rm -rf "$dir"
            if [[ -n ${MIRROR_PUSH:-} ]]; then
                fatal "the mirror has no $IMAGE_PATH:$IMAGE_TAG ($why); push it to $MIRROR_PUSH/$IMAGE_PATH:$IMAGE_TAG with the imageMirrorPush credentials (pulumi stack output imageMirrorPush --show-secrets), then run up again"
            fi
            fatal "the mirror cannot serve $IMAGE_PATH:$IMAGE_TAG ($why); check that its upstream has it"
        fi
        warn "fetching the manifest of $IMAGE_PATH:$IMAGE_TAG failed (try $i of 3); retrying"
        sleep 3
    done
    got="sha256:$(sha256sum "$dir/manifest" | cut -d' ' -f1)"
    header=$(awk 'tolower($1)=="docker-content-digest:" {gsub("\r",""); print $2}' "$dir/headers")
    rm -rf "$dir"
    [[ -z $header || $header == "$got" ]] || fatal "the mirror says $IMAGE_PATH:$IMAGE_TAG is $header, but the manifest it sent hashes to $got"
    if [[ -n ${IMAGE_DIGEST:-} && $IMAGE_DIGEST != "$got" ]]; then
        fatal "$IMAGE_PATH:$IMAGE_TAG is $got on the mirror, not $IMAGE_DIGEST as k8s-ha:imageDigests pins it; fix the pin or the image"
    fi
    info "$IMAGE_PATH:$IMAGE_TAG is $got"
    printf '%s\n' "$got"
}

delete() { :; }

run_verb "${1:-}"

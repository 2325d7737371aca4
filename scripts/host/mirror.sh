#!/usr/bin/env bash
# DockerImageMirror: a Docker distribution registry with TLS from the cluster PKI, either a
# pull-through cache of an upstream registry (which takes no pushes) or preloaded: then the nodes
# pull from it read-only, and a second registry over the same storage takes pushes on its own port
# from a user whose password comes from the stack (an htpasswd entry, bcrypt).
# Files (stdin): the registry's config, TLS certificate, key and CA; preloaded also the push
# endpoint's config and unit, and the push password (staged only, never installed), as
# components/mirror.ts sends them, with the units a change to each restarts.
# Environment: MIRROR_ADDRESS, MIRROR_PORT, MIRROR_MODE; MIRROR_PUSH_PORT (preloaded).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PUSH_UNIT=k8s-ha-registry-push
PUSH_USER=k8s-ha-push
HTPASSWD=$REGISTRY_PUSH_HTPASSWD

# Checked at the address the nodes use, so the certificate is verified the way they verify it.
registry_ready() { curl -fsS -m 5 --cacert "$REGISTRY_TLS_CA" "https://$MIRROR_ADDRESS:$MIRROR_PORT/v2/"; }
# The push endpoint answers, and asks for credentials.
push_ready() {
    [[ $(curl -sS -m 5 -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_TLS_CA" "https://$MIRROR_ADDRESS:$MIRROR_PUSH_PORT/v2/") == 401 ]]
}

# ensure_htpasswd: the push user's bcrypt entry, made from the staged password only when the file
# does not already accept that password (bcrypt salts differ, so comparing files would always differ).
# Returns 0 when it wrote the file.
ensure_htpasswd() {
    local pw
    pw=$(staged /secrets/registry-push-password)
    [[ -s $pw ]] || fatal "bundle has no push password"
    if [[ -f $HTPASSWD ]] && htpasswd -v -i "$HTPASSWD" "$PUSH_USER" <"$pw" >/dev/null 2>&1; then return 1; fi
    mark_pending
    (umask 077 && htpasswd -c -i -B -C 10 "$HTPASSWD.k8s-ha.tmp" "$PUSH_USER" <"$pw" >/dev/null 2>&1) ||
        fatal "htpasswd could not write the push user's entry"
    chgrp docker-registry "$HTPASSWD.k8s-ha.tmp"
    chmod 0640 "$HTPASSWD.k8s-ha.tmp"
    mv -f "$HTPASSWD.k8s-ha.tmp" "$HTPASSWD"
    info "push credentials set for $PUSH_USER"
    return 0
}

remove_push_endpoint() {
    if [[ -e $SYSTEMD_DIR/$PUSH_UNIT.service ]]; then
        service_remove "$PUSH_UNIT"
        info "push endpoint removed"
    fi
    remove_paths "$REGISTRY_PUSH_CONFIG" "$HTPASSWD"
}

create() {
    read_bundle
    apt_install docker-registry
    if [[ $MIRROR_MODE == preloaded ]]; then apt_install apache2-utils; fi
    install_bundle || true
    # The registry runs as its own user and must read its key.
    chgrp docker-registry "$REGISTRY_TLS_KEY"
    install -d -o docker-registry -g docker-registry "$REGISTRY_STORAGE_DIR"
    service_apply docker-registry "$(restart_of docker-registry)"
    wait_until 60 "the registry to answer on port $MIRROR_PORT" registry_ready
    if [[ $MIRROR_MODE == preloaded ]]; then
        local push_restart
        push_restart=$(restart_of "$PUSH_UNIT")
        if ensure_htpasswd; then push_restart=yes; fi
        service_apply "$PUSH_UNIT" "$push_restart"
        wait_until 60 "the push endpoint to answer on port $MIRROR_PUSH_PORT" push_ready
        info "image mirror ready (preloaded: pulls on $MIRROR_PORT read-only, pushes on $MIRROR_PUSH_PORT as $PUSH_USER)"
    else
        remove_push_endpoint
        info "image mirror ready ($MIRROR_MODE)"
    fi
}

delete() {
    remove_push_endpoint
    systemctl disable --now -q docker-registry 2>/dev/null || true
    rm -f "$STATE_DIR/started/docker-registry"
    remove_owned
    remove_paths "$REGISTRY_TLS_DIR"
    if [[ ${MIRROR_MODE:-proxy} == proxy ]]; then
        remove_paths "$REGISTRY_STORAGE_DIR"
    else
        warn "preloaded images kept in $REGISTRY_STORAGE_DIR"
    fi
    apt_purge apache2-utils docker-registry
    info "image mirror removed"
}

run_verb "${1:-}"

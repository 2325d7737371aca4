#!/usr/bin/env bash
# DockerImageMirror: a Docker distribution registry with TLS from the cluster PKI, either a
# pull-through cache of an upstream registry or preloaded.
# Files (stdin): /etc/docker/registry/config.yml, /etc/docker/registry/tls/{registry.crt,registry.key}.
# Environment: MIRROR_ADDRESS, MIRROR_PORT, MIRROR_MODE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Checked at the address the nodes use, so the certificate is verified the way they verify it.
registry_ready() { curl -fsS --cacert /etc/docker/registry/tls/ca.crt "https://$MIRROR_ADDRESS:$MIRROR_PORT/v2/"; }

create() {
    read_bundle
    apt_install docker-registry
    local restart=no
    if install_files /etc/docker/registry/config.yml /etc/docker/registry/tls/registry.crt \
        /etc/docker/registry/tls/registry.key /etc/docker/registry/tls/ca.crt; then restart=yes; fi
    # The registry runs as its own user and must read its key.
    chgrp docker-registry /etc/docker/registry/tls/registry.key
    install -d -o docker-registry -g docker-registry /var/lib/docker-registry
    service_apply docker-registry "$restart"
    wait_until 60 "the registry to answer on port $MIRROR_PORT" registry_ready
    info "image mirror ready ($MIRROR_MODE)"
}

delete() {
    systemctl disable --now -q docker-registry 2>/dev/null || true
    rm -f "$STATE_DIR/started/docker-registry"
    remove_paths /etc/docker/registry/tls /etc/docker/registry/config.yml
    if [[ ${MIRROR_MODE:-proxy} == proxy ]]; then
        remove_paths /var/lib/docker-registry
    else
        warn "preloaded images kept in /var/lib/docker-registry"
    fi
    apt_purge docker-registry
    info "image mirror removed"
}

run_verb "${1:-}"

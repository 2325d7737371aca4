#!/usr/bin/env bash
# A team backend for Pulumi's state on this machine: PostgreSQL from Debian's packages, which Pulumi
# takes as a postgres:// backend (the state in one table, pulumi_state by default).
#   backend.sh postgres up              installs PostgreSQL (apt) when it is missing; makes and starts
#                                       the cluster K8S_HA_PG_CLUSTER (default k8sha) listening on
#                                       127.0.0.1:K8S_HA_PG_PORT (default 5433) only, with a role and a
#                                       database `pulumi` that owns it; idempotent
#   backend.sh postgres env             the lines to eval: PULUMI_BACKEND_URL and PGPASSFILE
#   backend.sh postgres url             the backend URL alone (it holds no password)
#   backend.sh postgres status          the cluster's state and a login as pulumi over TCP
#   backend.sh postgres down [--purge]  stops the cluster; --purge also drops it (every stack in it)
#                                       and the password file
# The role's password is generated here and kept in .tools/backend/postgres.pgpass (mode 0600, a
# libpq password file: HOST:PORT:DATABASE:USER:PASSWORD). It is never in a command's arguments, a
# URL or this script's output: Pulumi's PostgreSQL driver (lib/pq) reads it from the file PGPASSFILE
# names (or ~/.pgpass), and the server gets only its SCRAM-SHA-256 verifier, made here. A password
# in the URL would show in Pulumi's messages (a lock's error prints the backend URL).
# Needs root (apt, and the cluster runs as the Debian user postgres).
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER=${K8S_HA_PG_CLUSTER:-k8sha}
PORT=${K8S_HA_PG_PORT:-5433}
DB=pulumi
ROLE=pulumi
PGPASS=$ROOT/.tools/backend/postgres.pgpass

say() { printf 'backend: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
usage="usage: backend.sh postgres up | env | url | status | down [--purge]"

backend_url() { printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable\n' "$ROLE" "$PORT" "$DB"; }

# pg_version: the newest PostgreSQL major installed.
pg_version() { find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1; }

install_postgres() {
    command -v pg_createcluster >/dev/null && [[ -n $(pg_version) ]] && return 0
    say "installing postgresql from Debian's archive"
    apt-get update -qq
    # The package's own cluster (main, port 5432) must not start: this script makes its own.
    local guard=no
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        guard=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null || {
        [[ $guard == no ]] || rm -f /usr/sbin/policy-rc.d
        die "apt-get install postgresql failed"
    }
    [[ $guard == no ]] || rm -f /usr/sbin/policy-rc.d
}

cluster_line() { pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v c="$CLUSTER" '$1 == v && $2 == c'; }

# psql_admin SQL...: psql as the superuser over the cluster's Unix socket (peer authentication).
psql_admin() { runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"; }

# stored_password: the password of the pgpass line (alphanumeric: nothing to unescape).
stored_password() { awk -F: 'NR == 1 { print $5 }' "$PGPASS"; }

# scram_verifier: the SCRAM-SHA-256 verifier (RFC 7677, PostgreSQL's format) of the password on
# stdin, so that the server never sees the password itself.
scram_verifier() {
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
const crypto = require("crypto");
const password = require("fs").readFileSync(0, "utf8").trim();
const salt = crypto.randomBytes(16), iterations = 4096;
const salted = crypto.pbkdf2Sync(password, salt, iterations, 32, "sha256");
const hmac = (key, text) => crypto.createHmac("sha256", key).update(text).digest();
const stored = crypto.createHash("sha256").update(hmac(salted, "Client Key")).digest();
const server = hmac(salted, "Server Key");
process.stdout.write(`SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${stored.toString("base64")}:${server.toString("base64")}`);
'
}

# login_works: a login as the role over TCP with the stored password.
login_works() { PGPASSFILE=$PGPASS PGCONNECT_TIMEOUT=5 psql -X -q -At -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DB" -c 'select 1' >/dev/null 2>&1; }

up() {
    [[ $(id -u) == 0 ]] || die "run as root (apt, and the cluster runs as the user postgres)"
    command -v node >/dev/null || die "node is not on PATH (source .tools/env.sh)"
    install_postgres
    local v
    v=$(pg_version)
    if [[ -z $(cluster_line "$v") ]]; then
        say "making the PostgreSQL $v cluster $CLUSTER on 127.0.0.1:$PORT"
        pg_createcluster "$v" "$CLUSTER" -p "$PORT" >/dev/null
    fi
    # Loopback only, whatever the cluster was made with: a file of its conf.d, read last.
    printf "# Written by k8s-ha's scripts/backend.sh.\nlisten_addresses = '127.0.0.1'\npassword_encryption = 'scram-sha-256'\n" \
        >"/etc/postgresql/$v/$CLUSTER/conf.d/k8s-ha.conf"
    if [[ $(cluster_line "$v" | awk '{ print $4 }') != online ]]; then
        pg_ctlcluster "$v" "$CLUSTER" start
    fi
    if [[ ! -s $PGPASS ]]; then
        mkdir -p "$(dirname "$PGPASS")"
        chmod 0700 "$(dirname "$PGPASS")"
        (umask 077 && printf '127.0.0.1:%s:%s:%s:%s\n' "$PORT" "$DB" "$ROLE" "$(head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 40)" >"$PGPASS")
        say "generated the role's password into ${PGPASS#"$ROOT"/} (0600)"
    fi
    chmod 0600 "$PGPASS"
    if [[ -z $(psql_admin -c "select 1 from pg_roles where rolname = '$ROLE'") ]]; then
        psql_admin -c "create role $ROLE login"
    fi
    if [[ -z $(psql_admin -c "select 1 from pg_database where datname = '$DB'") ]]; then
        psql_admin -c "create database $DB owner $ROLE"
        psql_admin -c "revoke all on database $DB from public"
    fi
    if [[ -z $(psql_admin -c "select 1 from pg_authid where rolname = '$ROLE' and rolpassword is not null") ]] || ! login_works; then
        # The verifier goes on stdin: no password, not even its verifier, in any process's arguments.
        { printf "alter role %s password '" "$ROLE"; stored_password | scram_verifier; printf "';\n"; } | psql_admin
        login_works || die "cannot log in as $ROLE on 127.0.0.1:$PORT with the password in ${PGPASS#"$ROOT"/}"
        say "set the role's password (its SCRAM verifier)"
    fi
    say "up: $(backend_url) (the password in ${PGPASS#"$ROOT"/}); to use it: eval \"\$(bash scripts/backend.sh postgres env)\""
}

status() {
    local v line
    v=$(pg_version)
    [[ -n $v ]] || die "PostgreSQL is not installed (bash scripts/backend.sh postgres up)"
    line=$(cluster_line "$v")
    [[ -n $line ]] || die "no cluster $CLUSTER (bash scripts/backend.sh postgres up)"
    say "cluster: $line"
    [[ -s $PGPASS ]] || die "no password file ${PGPASS#"$ROOT"/}"
    if login_works; then say "login as $ROLE on 127.0.0.1:$PORT works: $(backend_url)"; else die "cannot log in as $ROLE on 127.0.0.1:$PORT"; fi
}

down() {
    local v purge=${1:-}
    [[ -z $purge || $purge == --purge ]] || die "$usage"
    v=$(pg_version)
    [[ -n $v && -n $(cluster_line "$v") ]] || { say "no cluster $CLUSTER"; return 0; }
    if [[ $purge == --purge ]]; then
        pg_dropcluster --stop "$v" "$CLUSTER"
        rm -f "$PGPASS"
        say "dropped the cluster $CLUSTER and the password file"
    else
        [[ $(cluster_line "$v" | awk '{ print $4 }') != online ]] || pg_ctlcluster "$v" "$CLUSTER" stop
        say "stopped the cluster $CLUSTER (its data stays; --purge drops it)"
    fi
}

[[ ${1:-} == postgres ]] || die "$usage"
case ${2:-} in
up) up ;;
env) printf "export PULUMI_BACKEND_URL='%s'\nexport PGPASSFILE='%s'\n" "$(backend_url)" "$PGPASS" ;;
url) backend_url ;;
status) status ;;
down) down "${3:-}" ;;
-h | --help | help) echo "$usage" ;;
*) die "$usage" ;;
esac

#!/usr/bin/env bash
# Mints a break-glass kubeconfig (CN k8s-ha-break-glass, group system:masters) from the stack's
# cluster CA, valid for a few hours, into a file only you can read (npm run break-glass):
#   bash scripts/break-glass.sh [--stack NAME] [--hours N] [--out PATH]
# For when no host keeps one (k8s-ha:adminCredential.breakGlassHost: none), or the one kept has
# expired. --hours: 1 to 24, default 1. --out: default ./<stack>-break-glass.kubeconfig (a relative
# path from the folder npm was run in). The CA's key is read from the stack's state
# (pulumi stack export --show-secrets) into this script's memory and handed to openssl on a pipe;
# the new key is made in a private folder and exists afterwards only in the kubeconfig (0600).
# system:masters cannot be revoked: the certificate is valid until it expires, whatever RBAC says.
# The apiservers' audit logs name it k8s-ha-break-glass. PULUMI_SH (default scripts/pulumi.sh) is
# the command that reads the stack (the tests give a stand-in).
# shellcheck disable=SC2016 # the node programs are single-quoted on purpose
set -Eeuo pipefail
umask 077
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FROM=${INIT_CWD:-$PWD}
cd "$ROOT"
die() {
    printf 'break-glass: %s\n' "$*" >&2
    exit 1
}
usage="usage: break-glass.sh [--stack NAME] [--hours N] [--out PATH]"
# shellcheck source=scripts/stack-hosts.sh
source scripts/stack-hosts.sh
# shellcheck source=scripts/plan.sh
source scripts/plan.sh
stack_options "$usage" "$@"
OUT="" HOURS=1
set -- "${STACK_REST[@]}"
while (($# > 0)); do
    case $1 in
    --out | -o | --hours)
        if (($# < 2)) || [[ -z $2 ]]; then die "$usage"; fi
        if [[ $1 == --hours ]]; then HOURS=$2; else OUT=$2; fi
        shift
        ;;
    --out=*) OUT=${1#--out=} ;;
    --hours=*) HOURS=${1#--hours=} ;;
    *) die "$usage" ;;
    esac
    shift
done
if ! [[ $HOURS =~ ^[0-9]+$ ]] || ((10#$HOURS < 1 || 10#$HOURS > 24)); then die "--hours must be a whole number from 1 to 24, got '$HOURS'"; fi
HOURS=$((10#$HOURS))
STACK=${K8S_HA_STACK:-dev}
[[ -n $OUT ]] || OUT=$STACK-break-glass.kubeconfig
[[ $OUT == /* ]] || OUT=$FROM/$OUT
DIR=$(dirname "$OUT")
[[ -d $DIR ]] || die "no folder $DIR to write $(basename "$OUT") in"
[[ ! -d $OUT ]] || die "$OUT is a folder; name a file with --out PATH"
PULUMI_SH=${PULUMI_SH:-scripts/pulumi.sh}

WORK=$(mktemp -d)
TMP=$(mktemp "$DIR/.$(basename "$OUT").XXXXXX")
trap 'rm -rf "$WORK"; rm -f "$TMP"' EXIT

# The user's name and group, and renderKubeconfig, from the program (compiled into bin/ when needed).
load_plan /dev/null >/dev/null || die "the program does not compile"
RENDER=$ROOT/bin/components/render

# The cluster CA's certificate and key (the Pki cluster-pki's resources), one JSON line, kept in memory.
ca=$(bash "$PULUMI_SH" --stack "$STACK" stack export --show-secrets 2>"$WORK/err" | node -e '
const state = JSON.parse(require("fs").readFileSync(0, "utf8"));
const plain = (v) => (v && typeof v === "object" && "plaintext" in v ? JSON.parse(v.plaintext) : v);
const find = (type, name) => (state.deployment?.resources ?? []).find((r) => r.type === type && r.urn.endsWith(`::${name}`));
const key = find("tls:index/privateKey:PrivateKey", "cluster-pki-ca-key");
const cert = find("tls:index/selfSignedCert:SelfSignedCert", "cluster-pki-ca");
if (!key || !cert) { console.error("no cluster CA in the state: the stack has not been brought up"); process.exit(1); }
process.stdout.write(JSON.stringify({ key: plain(key.outputs.privateKeyPem), cert: plain(cert.outputs.certPem) }));
' 2>>"$WORK/err") || die "cannot read the cluster CA of the stack $STACK: $(grep -v '^[[:space:]]*$' "$WORK/err" | tail -n 1)"
server=$(bash "$PULUMI_SH" --stack "$STACK" stack output endpoint 2>"$WORK/err") || die "cannot read the endpoint output of the stack $STACK: $(tail -n 1 "$WORK/err")"
[[ $server == https://* ]] || die "the endpoint output of the stack $STACK is not an https URL: '$server'"
field() { node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[process.argv[1]])' "$1" <<<"$ca"; }
user=$(node -e 'process.stdout.write(require(process.argv[1]).BREAK_GLASS_USER)' "$RENDER")

# A fresh P-256 key and its certificate, signed by `openssl ca` (which takes an end date in hours).
field cert >"$WORK/ca.crt"
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/key.pem" 2>/dev/null
openssl req -new -key "$WORK/key.pem" -subj "/O=system:masters/CN=$user" -out "$WORK/req.csr"
: >"$WORK/index.txt"
cat >"$WORK/ca.cnf" <<EOF
[ca]
default_ca = glass
[glass]
database = $WORK/index.txt
new_certs_dir = $WORK
rand_serial = yes
default_md = sha256
policy = names
unique_subject = no
x509_extensions = client
[names]
organizationName = supplied
commonName = supplied
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
EOF
# One clock reading for both ends: the validity is exactly the hours asked plus the 5 minutes' skew.
now=$(date -u +%s)
start=$(date -u -d "@$((now - 300))" +%Y%m%d%H%M%SZ)
end=$(date -u -d "@$((now + HOURS * 3600))" +%Y%m%d%H%M%SZ)
openssl ca -batch -notext -preserveDN -config "$WORK/ca.cnf" -cert "$WORK/ca.crt" -keyfile <(field key) \
    -startdate "$start" -enddate "$end" -in "$WORK/req.csr" -out "$WORK/cert.pem" 2>"$WORK/err" ||
    die "openssl could not sign the certificate: $(tail -n 1 "$WORK/err")"

# The kubeconfig, rendered by the program; the secrets reach node on stdin, never in its arguments.
node -e '
const r = require(process.argv[1]);
const i = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(r.renderKubeconfig({ server: i.server, caCertPem: i.ca, clientCertPem: i.cert, clientKeyPem: i.key, userName: i.user }));
' "$RENDER" < <(node -e 'const f = require("fs"); const [ca, cert, key, server, user] = process.argv.slice(1); process.stdout.write(JSON.stringify({ ca: f.readFileSync(ca, "utf8"), cert: f.readFileSync(cert, "utf8"), key: f.readFileSync(key, "utf8"), server, user }));' \
    "$WORK/ca.crt" "$WORK/cert.pem" "$WORK/key.pem" "$server" "$user") >"$TMP"
grep -q '^kind: Config$' "$TMP" || die "the kubeconfig was not rendered; nothing written"
mv -f "$TMP" "$OUT"
printf 'break-glass: wrote %s: %s in system:masters for the stack %s, valid until %s; it cannot be revoked: delete the file when done\n' \
    "$OUT" "$user" "$STACK" "$(openssl x509 -in "$WORK/cert.pem" -noout -enddate | cut -d= -f2)" >&2

#!/usr/bin/env bash
# Makes a local CA, a server certificate and a client certificate under certs/ for
# secure-echo and its clients. Keys are mode 600 and git-ignored.
#
#   scripts/gen-certs.sh [--rsa] [--out DIR] [NAME ...]
#
# The server certificate covers localhost, 127.0.0.1 and ::1, plus every NAME given
# (an IP address or a DNS name). Default keys are ECDSA P-256; --rsa makes RSA 2048.
set -euo pipefail

out="$(cd "$(dirname "$0")/.." && pwd)/certs"
algorithm=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
names=()
while (($#)); do
    case "$1" in
        --rsa) algorithm=(-newkey rsa:2048); shift ;;
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "gen-certs.sh: unknown option $1" >&2; exit 64 ;;
        *) names+=("$1"); shift ;;
    esac
done

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for name in ${names[@]+"${names[@]}"}; do
    if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san+=",IP:$name"; else san+=",DNS:$name"; fi
done

mkdir -p "$out"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# CA: self-signed, allowed to sign certificates only.
openssl req -x509 "${algorithm[@]}" -nodes -sha256 -days 3650 \
    -subj "/CN=secure-echo local CA" \
    -keyout "$out/ca.key" -out "$out/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

issue() {  # issue NAME SUBJECT EXTENSIONS
    openssl req "${algorithm[@]}" -nodes -sha256 -subj "$2" \
        -keyout "$out/$1.key" -out "$work/$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$work/$1.ext"
    openssl x509 -req -sha256 -days 825 -in "$work/$1.csr" \
        -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial -CAserial "$work/ca.srl" \
        -extfile "$work/$1.ext" -out "$out/$1.pem" 2>/dev/null
}

issue server "/CN=localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san"

issue client "/CN=secure-echo client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

chmod 600 "$out"/*.key
chmod 644 "$out"/*.pem

echo "wrote $out/ca.pem, server.pem, server.key, client.pem, client.key"
echo "server names: $san"
echo "server sha256 $(openssl x509 -in "$out/server.pem" -noout -fingerprint -sha256 | cut -d= -f2)"

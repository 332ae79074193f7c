#!/usr/bin/env bash
# Makes a certificate authority, a server certificate and client certificates for trying TLS
# (README, docs/security.md) and for the tests (Tests/Fixtures/tls holds one set made by it).
#
#   scripts/dev-certs.sh [DIR]        # default DIR: ./certs
#
# In DIR: ca.pem/ca.key (the CA), server.pem/server.key (CN localhost; names localhost,
# 127.0.0.1 and ::1), client.pem/client.key (CN alice), client-bob.pem/client-bob.key (CN bob),
# other-ca.pem/other-ca.key (a CA nobody trusts), untrusted-client.pem/.key (CN mallory, signed
# by other-ca), expired.pem/expired.key (a server certificate that expired a day before it was
# made), server-other.pem/.key (a server certificate for localhost signed by other-ca: a
# certificate to reload to). Keys are P-256, unencrypted: for development and tests only.
set -euo pipefail
dir=${1:-certs}
days=${DEV_CERT_DAYS:-36500}
command -v openssl >/dev/null || { echo "dev-certs.sh: needs the openssl command (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # name, common name
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days "$days" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

leaf() {  # name, common name, signing CA, extensions, days
    key "$1.key"
    openssl req -new -key "$1.key" -out "$work/$1.csr" -subj "/CN=$2"
    printf '%s\n' "$4" > "$work/$1.ext"
    openssl x509 -req -in "$work/$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -out "$1.pem" \
        -days "$5" -extfile "$work/$1.ext" 2>/dev/null
}

server_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

ca ca "broker dev CA"
ca other-ca "untrusted dev CA"
leaf server localhost ca "$server_ext" "$days"
leaf client alice ca "$client_ext" "$days"
leaf client-bob bob ca "$client_ext" "$days"
leaf untrusted-client mallory other-ca "$client_ext" "$days"
leaf expired localhost ca "$server_ext" -1
leaf server-other localhost other-ca "$server_ext" "$days"
rm -f ./*.srl
echo "dev-certs.sh: made $(ls ./*.pem | wc -l) certificates in $(pwd)"

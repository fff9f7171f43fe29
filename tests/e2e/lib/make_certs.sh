#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Test PKI for HTTPS export checks, made fresh with openssl (P-256 keys, valid 2 days):
#   ca.pem              a private CA ("tracebridge test CA")
#   server.pem/.key     localhost (DNS:localhost, IP:127.0.0.1), signed by ca.pem
#   wrongname.pem/.key  other.example only, signed by ca.pem (host name check must refuse it)
#   foreign-ca.pem      another CA; foreign.pem/.key: localhost, signed by it
# usage: tests/e2e/lib/make_certs.sh DIR
set -eu
d=$1
mkdir -p "$d"
cd "$d"
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # name subject
    ec "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() { # name ca san serial
    local cn=${3%%,*}
    ec "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=${cn#DNS:}" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
        "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "$4" -days 2 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
ca ca "tracebridge test CA"
ca foreign-ca "some other CA"
leaf server ca "DNS:localhost,IP:127.0.0.1" 2
leaf wrongname ca "DNS:other.example" 3
leaf foreign foreign-ca "DNS:localhost,IP:127.0.0.1" 4
openssl verify -CAfile ca.pem server.pem >/dev/null

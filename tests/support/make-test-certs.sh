#!/usr/bin/env bash
# Makes throwaway TLS certificates for the tests in DIR (created if missing), with the openssl
# command only; EC P-256 keys, so that it takes a fraction of a second.
#   ca.pem ca.key              a test CA
#   server.pem server.key      for 127.0.0.1, ::1 and localhost, signed by the CA
#   expired.pem expired.key    the same names, signed by the CA, valid only in January 2020
#   wrong-host.pem .key        for wrong-host.example only, signed by the CA
#   other-ca.pem other-ca.key  another CA, that signed none of these (a client trusting it
#                              trusts no server here)
#   client.pem client.key      a client certificate (clientAuth) signed by the CA
# Usage: make-test-certs.sh DIR
set -euo pipefail

dir=${1:?usage: make-test-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
export OPENSSL_CONF=/dev/null  # no site configuration changes what is made

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# new_ca NAME: a self-signed CA
new_ca() {
  new_key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=api-broker test $1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# signed NAME EXTENSIONS [openssl ca dates...]: a key and a certificate signed by ca.pem
signed() {
  local name=$1 extensions=$2
  shift 2
  new_key "$name.key"
  openssl req -new -key "$name.key" -out "$name.csr" -subj "/CN=$name"
  printf '%s\n' "$extensions" >"$name.ext"
  openssl ca -batch -config ca.cnf -notext -in "$name.csr" -out "$name.pem" \
    -extfile "$name.ext" "$@" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

new_ca ca
new_ca other-ca

# `openssl ca` (not `x509 -req`) because it takes any start and end date: OpenSSL 3.0's x509
# cannot back-date a certificate, and the expired one must be.
mkdir -p ca-db
: >ca-db/index.txt
echo 01 >ca-db/serial
cat >ca.cnf <<CNF
[ca]
default_ca = test_ca
[test_ca]
dir = $PWD/ca-db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
certificate = $PWD/ca.pem
private_key = $PWD/ca.key
default_md = sha256
default_days = 3650
policy = any
unique_subject = no
[any]
commonName = supplied
CNF

server_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
signed server "$server_ext
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
signed expired "$server_ext
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" -startdate 20200101000000Z -enddate 20200131000000Z
signed wrong-host "$server_ext
subjectAltName=DNS:wrong-host.example"
signed client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

#!/bin/sh
# Make a small test CA and a TLS server certificate for 127.0.0.1 / localhost, signed by it.
#   sh services/make-test-ca.sh OUTDIR
# Writes OUTDIR/ca.pem, ca.key (the CA), server.pem (leaf certificate), server.key.
# Clients (the portal's lettre/rustls) trust ca.pem; the server presents server.pem/server.key.
# rustls refuses a self-signed certificate that is its own CA, hence the two levels.
# Idempotent: does nothing when the files already exist. Test use only.
set -eu

OUT="${1:?usage: make-test-ca.sh OUTDIR}"
mkdir -p "$OUT"
cd "$OUT"

if [ -s ca.pem ] && [ -s ca.key ] && [ -s server.pem ] && [ -s server.key ]; then
  echo "make-test-ca: $OUT already has ca.pem, server.pem, server.key; nothing to do"
  exit 0
fi

umask 077
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

cat > "$TMP/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = RA portal e2e test CA
O = RA portal end2end tests
[v3_ca]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

cat > "$TMP/leaf.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
O = RA portal end2end tests
[v3_leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/ca.key.sec1"
openssl pkcs8 -topk8 -nocrypt -in "$TMP/ca.key.sec1" -out ca.key
openssl req -new -x509 -config "$TMP/ca.cnf" -key ca.key -sha256 -days 3650 -out ca.pem

openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/server.key.sec1"
openssl pkcs8 -topk8 -nocrypt -in "$TMP/server.key.sec1" -out server.key
openssl req -new -config "$TMP/leaf.cnf" -key server.key -out "$TMP/server.csr"
openssl x509 -req -in "$TMP/server.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
  -sha256 -days 825 -extfile "$TMP/leaf.cnf" -extensions v3_leaf -out server.pem
chmod 644 ca.pem server.pem

openssl verify -CAfile ca.pem server.pem >/dev/null
echo "make-test-ca: wrote $OUT/ca.pem, $OUT/server.pem, $OUT/server.key"

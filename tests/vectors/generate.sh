#!/bin/sh
# Regenerates the protocol test vectors with tools independent of dyn53's Rust code:
# v1 with coreutils sha256sum, v2 with openssl HMAC (and cross-checked with Python's hmac).
# Run from anywhere; writes v1.tsv and v2.tsv beside this script.
set -eu
cd "$(dirname "$0")"

{
  printf '# ip\thostname\tsecret\tsha256(ip||hostname||secret)\n'
  while IFS='	' read -r ip host secret; do
    h=$(printf %s "$ip$host$secret" | sha256sum | cut -d' ' -f1)
    printf '%s\t%s\t%s\t%s\n' "$ip" "$host" "$secret" "$h"
  done <<'IN'
203.0.113.7	home.example.com	s3cret
198.51.100.1	home.example.com.	correct horse battery staple
2001:db8::1	v6.example.org	k
192.0.2.10	Office.Example.NET	Z9!x#yQ%
IN
} > v1.tsv

{
  printf '# hostname\ttype\tip\tip_mode\tnonce\tsecret\thmac_sha256(secret, canonical)\n'
  while IFS='	' read -r host type ip mode nonce secret; do
    # printf expands the \n separators of the canonical string (see docs/PROTOCOL.md).
    h=$(printf 'dyn53-v2\n%s\n%s\n%s\n%s\n%s\n' "$host" "$type" "$ip" "$mode" "$nonce" |
      openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
    py=$(python3 -c 'import hmac,hashlib,sys
h,t,i,m,n,s=sys.argv[1:]
print(hmac.new(s.encode(),f"dyn53-v2\n{h}\n{t}\n{i}\n{m}\n{n}\n".encode(),hashlib.sha256).hexdigest())' \
      "$host" "$type" "$ip" "$mode" "$nonce" "$secret")
    [ "$h" = "$py" ] || { echo "openssl and python disagree for $host" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$host" "$type" "$ip" "$mode" "$nonce" "$secret" "$h"
  done <<'IN'
home.example.com	A	203.0.113.7	source	6740e1a0.0707070707070707070707070707070707.00112233445566778899aabbccddeeff	s3cret
home.example.com	AAAA	2001:db8::1	explicit	6740e1a0.00000000000000000000000000000000.ffeeddccbbaa99887766554433221100	s3cret
a.b.example.net	A	198.51.100.200	explicit	n-1_x	a-secret-longer-than-the-sixty-four-byte-hmac-block-size-so-it-gets-hashed-first
IN
} > v2.tsv
echo "wrote v1.tsv v2.tsv"

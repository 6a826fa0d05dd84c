#!/bin/sh
# Regenerates the protocol test vectors with tools independent of dyn53's Rust code:
# v1 with coreutils sha256sum, v2 with openssl HMAC (and cross-checked with Python's hmac),
# v1 answers with Python's json.dumps (what the reference handler serialises with).
# Run from anywhere; writes v1.tsv, v2.tsv and v1_answers.tsv beside this script.
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
python3 - >v1_answers.tsv <<'PY'
import json
print("# success(1/0)\thex(utf-8 message)\tjson.dumps({'return_status': ..., 'return_message': message})")
for ok, msg in [
    (1, "203.0.113.7"),
    (1, "2001:db8::1"),
    (1, "Your IP address matches the current Route53 DNS record."),
    (1, "Your hostname record home.example.com. has been set to 198.51.100.4"),
    (1, "home.example.com has been updated to 198.51.100.4"),
    (0, "Validation hashes do not match."),
    (0, "You must pass a valid sha256 hash in the hash= argument."),
    (0, 'quote " backslash \\ slash / tab \t newline \n cr \r bs \b ff \f nul \x00 del \x7f'),
    (0, "caf\u00e9 \u2603 \U0001f600"),
]:
    body = json.dumps({"return_status": "success" if ok else "fail", "return_message": msg})
    print(f"{ok}\t{msg.encode().hex()}\t{body}")
PY
echo "wrote v1.tsv v2.tsv v1_answers.tsv"

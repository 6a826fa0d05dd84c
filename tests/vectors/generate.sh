#!/bin/sh
# Regenerates the protocol test vectors with tools independent of dyn53's Rust code:
# v1 with coreutils sha256sum, v2 with openssl HMAC (and cross-checked with Python's hmac),
# v1 answers with Python's json.dumps (what the reference handler serialises with).
# LAN prefixes and addresses with Python's ipaddress and hmac.
# Run from anywhere; writes the .tsv files beside this script.
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
# v2 with a LAN prefix: Python's ipaddress decides validity and canonical text (strict:
# no host bits), hmac signs the seven-line canonical string.
python3 - >v2_lan.tsv <<'PY'
import hashlib, hmac, ipaddress
print("# hostname\ttype\tip\tip_mode\tnonce\tsecret\tlan_prefix as sent\tcanonical prefix or 'refused'\thmac_sha256(secret, canonical) or '-'")
rows = [
    ("home.example.com", "AAAA", "2001:db8:1::1", "source", "6740e1a0.0707.aa", "s3cret", "2001:db8:1:10::/64"),
    ("home.example.com", "A", "203.0.113.7", "source", "6740e1a0.0707.bb", "s3cret", "2001:0DB8:0001:0000::/56"),
    ("home.example.com", "A", "203.0.113.7", "source", "n-2", "s3cret", "2a02:1234:5600::/48"),
    ("home.example.com", "A", "203.0.113.7", "source", "n-3", "s3cret", "2001:db8:1::/72"),
    ("home.example.com", "A", "203.0.113.7", "source", "n-4", "s3cret", "fd00:1:2:3::/64"),
    ("home.example.com", "A", "203.0.113.7", "source", "n-5", "s3cret", "2001:db8:1:10::1/64"),
    ("home.example.com", "A", "203.0.113.7", "source", "n-6", "s3cret", "2001:db8::/32"),
]
g = ipaddress.ip_network("2000::/3")
for h, t, ip, m, n, sec, p in rows:
    try:
        net = ipaddress.IPv6Network(p, strict=True)
        ok = 48 <= net.prefixlen <= 64 and net.subnet_of(g)
    except ValueError:
        ok = False
    if not ok:
        print(f"{h}\t{t}\t{ip}\t{m}\t{n}\t{sec}\t{p}\trefused\t-")
        continue
    canon = f"{net.network_address.compressed}/{net.prefixlen}"
    msg = f"dyn53-v2\n{h}\n{t}\n{ip}\n{m}\n{n}\n{canon}\n"
    mac = hmac.new(sec.encode(), msg.encode(), hashlib.sha256).hexdigest()
    print(f"{h}\t{t}\t{ip}\t{m}\t{n}\t{sec}\t{p}\t{canon}\t{mac}")
PY
# LAN addresses: prefix | identifier, with EUI-64 (MAC split by ff:fe, U/L bit flipped)
# worked out here with integer arithmetic, not by dyn53's code.
python3 - >lan_addresses.tsv <<'PY'
import ipaddress
print("# prefix\tidentifier\taddress")
def iid(ident):
    if ident.startswith("eui64:"):
        mac = bytes(int(b, 16) for b in ident[6:].split(":"))
        eui = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
        return int.from_bytes(eui, "big")
    return int(ipaddress.IPv6Address(ident))
for p, ident in [
    ("2001:db8:1:10::/64", "::1234"),
    ("2001:db8:1:10::/64", "::a:b:c:d"),
    ("2001:db8:1:10::/64", "eui64:00:11:22:33:44:55"),
    ("2001:db8:1:10::/64", "eui64:02:00:5E:10:00:01"),
    ("2001:db8:7::/56", "::1234"),
    ("2001:db8:7::/56", "0:0:0:20::5"),
    ("2a02:1234:5600::/48", "0:0:0:ff01:0:0:0:1"),
]:
    net = ipaddress.IPv6Network(p)
    addr = ipaddress.IPv6Address(int(net.network_address) | iid(ident))
    print(f"{p}\t{ident}\t{addr.compressed}")
PY
echo "wrote v1.tsv v2.tsv v1_answers.tsv v2_lan.tsv lan_addresses.tsv"

#!/bin/sh
# The reference design's client, the way its users run it: POSIX sh + curl + sha256sum.
# It is the baseline that `make bench` measures dyn53 against (get the IP, hash, set),
# and a check that reference-style clients keep working against dyn53's backend (v1).
#
# usage: reference-client.sh URL HOSTNAME SECRET_FILE [CURL_OPTION...]
set -eu
url=$1 host=$2 secret_file=$3
shift 3
secret=$(cat "$secret_file")

# 2023 form: JSON bodies to a function URL.
ip=$(curl -fsS "$@" -H 'Content-Type: application/json' -d '{"execution_mode":"get"}' "$url" |
  sed -n 's/.*"return_message":"\([^"]*\)".*/\1/p')
[ -n "$ip" ] || { echo "reference-client: could not learn the public IP" >&2; exit 1; }
hash=$(printf %s "$ip$host$secret" | sha256sum | cut -d' ' -f1)
# curl -f fails on 4xx/5xx; the reference answers 200 (unchanged) or 201 (changed).
curl -fsS "$@" -H 'Content-Type: application/json' \
  -d "{\"execution_mode\":\"set\",\"ddns_hostname\":\"$host\",\"validation_hash\":\"$hash\"}" "$url"
echo

#!/bin/sh
# A client that behaves like the reference design's own clients (written from the field
# notes on them, not copied): POSIX sh + curl + sha256sum. It is the baseline `make bench`
# measures dyn53 against, and the stand-in for those clients in the compatibility tests
# (tests/router/reference-clients.sh), so it does what they do, fragile parts included:
#
# - the IP is every digit run of the WHOLE get answer (`grep -Eo '[0-9.]+'`), so any other
#   digit in the answer ends up in the hashed string, one match per line;
# - the token is sha256sum of ip, hostname and secret as extracted, concatenated;
# - query: the 2015/2016 bash client: GET ?mode=get, GET ?mode=set&hostname=&hash= (callers
#   pass the hostname as those host configs write it, with the trailing dot);
#   json: the current awslabs client: JSON POSTs, curl's -w status appended to the answer;
# - success is judged by grepping the set answer for a success status.
#
# usage: reference-client.sh query|json URL HOSTNAME SECRET_FILE [CURL_OPTION...]
# Prints the set answer; exit 0 if it says success, 1 if not, 2 on a usage error.
set -eu
[ $# -ge 4 ] || { echo "usage: $0 query|json URL HOSTNAME SECRET_FILE [CURL_OPTION...]" >&2; exit 2; }
form=$1 url=$2 host=$3 secret_file=$4
shift 4
secret=$(cat "$secret_file")

case $form in
query) got=$(curl -sS "$@" "$url?mode=get") ;;
json) got=$(curl -sS "$@" -H 'Content-Type: application/json' -d '{"execution_mode":"get"}' "$url") ;;
*) echo "reference-client: form must be query or json" >&2; exit 2 ;;
esac
ip=$(printf '%s\n' "$got" | grep -Eo '[0-9.]+') || { echo "reference-client: no IP in: $got" >&2; exit 1; }
hash=$(printf %s "$ip$host$secret" | sha256sum | cut -d' ' -f1)

if [ "$form" = query ]; then
	answer=$(curl -sS "$@" "$url?mode=set&hostname=$host&hash=$hash")
else
	answer=$(curl -sS "$@" -w ',{"status_code":"%{http_code}"}' -H 'Content-Type: application/json' \
		-d "{\"execution_mode\":\"set\",\"ddns_hostname\":\"$host\",\"validation_hash\":\"$hash\"}" "$url")
fi
echo "$answer"
printf '%s\n' "$answer" | grep -q '"return_status": *"success"'

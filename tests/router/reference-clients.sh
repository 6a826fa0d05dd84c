#!/usr/bin/env bash
# Clients that behave like the reference design's own (tests/bench/reference-client.sh:
# digit-run IP extraction over the whole get answer, sha256sum token, success by grep),
# under BusyBox ash with curl, against the local backend (dyn53-backend serve) on moto:
# the 2015/2016 query form with the trailing-dot hostname and the 2023 JSON form each get
# their address, set a changed record, see it unchanged; a wrong secret and an unknown
# host get the same 401 and change nothing; normal use sends no auth-failure text.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || { echo "curl is not installed (make setup)" >&2; exit 1; }
scratch
echo "local backend on moto"
backend_up "$SCRATCH" || { fail "the local backend (moto + dyn53-backend serve) starts"; finish; exit 1; }
echo "  backend $BACKEND_URL, zone $ZONE_ID"
bb=$SCRATCH/bb
busybox_path "$bb" "$SCRATCH/syslog"
ln -s "$(command -v curl)" "$bb/curl"
client=$REPO/tests/bench/reference-client.sh

# secret_of NAME: adds the host and writes its secret (from the printed config) to a file.
secret_of() {
	host_add "$SCRATCH/$1.txt" "$1" || { cat "$SCRATCH/$1.txt" >&2; return 1; }
	printed_config "$SCRATCH/$1.txt" merlin | sed -n 's/^secret=//p' | tr -d '\n' >"$SCRATCH/$1.secret"
	[ -s "$SCRATCH/$1.secret" ]
}
# reference FORM HOSTNAME SECRET_FILE: the client under BusyBox ash; sets OUT and RC.
reference() {
	OUT=$(bbsh "$bb" -- "$client" "$1" "$BACKEND_URL" "$2" "$3" 2>&1)
	RC=$?
}
# digits BODY: what a digit-run match takes out of a get answer.
digits() { grep -Eo '[0-9.]+' <<<"$1" | tr '\n' ' ' | sed 's/ $//'; }
texts() { aws sns-texts "$DYN53_TOPIC_ARN"; }
contains() { case $1 in *"$2"*) return 0 ;; *) return 1 ;; esac; }

ok "host old.example.com added" secret_of old.example.com
ok "host new.example.com added" secret_of new.example.com

echo "get: the digit-run match finds exactly the caller's address"
for form in query json; do
	if [ "$form" = query ]; then
		body=$(curl -sS "${BACKEND_URL}?mode=get")
	else
		body=$(curl -sS -H 'Content-Type: application/json' -d '{"execution_mode":"get"}' "$BACKEND_URL")
	fi
	ok "$form get answer is the reference's: $body" \
		test "$body" = '{"return_status": "success", "return_message": "127.0.0.1"}'
	ok "$form get: digits '$(digits "$body")'" test "$(digits "$body")" = 127.0.0.1
done

echo "2015/2016 query form, hostname with its trailing dot"
reference query old.example.com. "$SCRATCH/old.example.com.secret"
show_log "$OUT"
ok "set: success (exit $RC)" test "$RC" = 0
ok "set: the 2015 wording, host as sent" contains "$OUT" \
	'"return_message": "Your hostname record old.example.com. has been set to 127.0.0.1"'
ok "Route 53: old.example.com A 127.0.0.1" test "$(record old.example.com A)" = 127.0.0.1
reference query old.example.com. "$SCRATCH/old.example.com.secret"
show_log "$OUT"
ok "again: unchanged (exit $RC)" test "$RC" = 0
ok "again: 'matches the current Route53 DNS record.'" contains "$OUT" \
	'"return_message": "Your IP address matches the current Route53 DNS record."'

echo "2023 JSON form (awslabs style, curl status appended)"
reference json new.example.com "$SCRATCH/new.example.com.secret"
show_log "$OUT"
ok "set: success (exit $RC)" test "$RC" = 0
ok "set: the 2023 wording and HTTP 201" test "$OUT" = \
	'{"return_status": "success", "return_message": "new.example.com has been updated to 127.0.0.1"},{"status_code":"201"}'
ok "Route 53: new.example.com A 127.0.0.1" test "$(record new.example.com A)" = 127.0.0.1
reference json new.example.com "$SCRATCH/new.example.com.secret"
show_log "$OUT"
ok "again: unchanged, HTTP 200" test "$OUT" = \
	'{"return_status": "success", "return_message": "Your IP address matches the current Route53 DNS record."},{"status_code":"200"}'

echo "notifications after normal use"
before=$(texts)
show_log "$before"
ok "two change texts" test "$(grep -c ' changed ' <<<"$before")" = 2
not_ok "no authentication-failure text" grep -q 'authentication failure' <<<"$before"

echo "wrong secret and unknown host: one answer, nothing changed"
denied='{"return_status": "fail", "return_message": "Validation hashes do not match."},{"status_code":"401"}'
printf 'not-the-secret' >"$SCRATCH/wrong.secret"
records_before="$(record old.example.com A) $(record new.example.com A)"
reference json new.example.com "$SCRATCH/wrong.secret"
show_log "$OUT"
ok "wrong secret: failure (exit $RC)" test "$RC" = 1
ok "wrong secret: 401 'Validation hashes do not match.'" test "$OUT" = "$denied"
reference json nobody.example.com "$SCRATCH/new.example.com.secret"
show_log "$OUT"
ok "unknown host: failure (exit $RC)" test "$RC" = 1
ok "unknown host: the very same answer" test "$OUT" = "$denied"
reference query old.example.com. "$SCRATCH/wrong.secret"
ok "query form, wrong secret: the same message" contains "$OUT" '"return_message": "Validation hashes do not match."}'
ok "Route 53 unchanged" test "$(record old.example.com A) $(record new.example.com A)" = "$records_before"
after=$(texts)
ok "an authentication-failure text for each host whose secret was guessed" \
	test "$(grep -c 'authentication failure' <<<"$after")" = 2
not_ok "no text names the unknown host" grep -q nobody <<<"$after"
finish

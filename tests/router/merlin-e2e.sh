#!/usr/bin/env bash
# Asuswrt-Merlin end to end with real parts: the armv7 release tarball installed with
# install.sh on a scratch /jffs, the installed binary under qemu-arm-static, the firmware's
# call `sh /jffs/scripts/ddns-start <wanip>` under BusyBox ash, and the local backend on
# moto with the config `dyn53-backend host add` printed. The firmware's
# /sbin/ddns_custom_updated is a recorder at an overridable path. Checks: record set and 1
# reported; again: unchanged and 1; wrong secret: 0, nothing changed, no secret logged;
# backend down: 0 within the firmware's 120 s; hung backend: the watchdog reports 0; the
# dual-WAN wan-event hook; LAN hosts: lan_prefix=1 sends the nvram IPv6 prefix and a new one
# moves 3 LAN records, off/missing/garbage: no --lan-prefix, the update still runs; and the
# aarch64 binary through the Entware package.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

need_router_binaries armv7-unknown-linux-musleabi aarch64-unknown-linux-musl || exit 1
scratch
version=$(cargo_version)
"$REPO/.ci/build-ipk" armv7-3.2 aarch64-3.10 >/dev/null || { fail "build-ipk"; finish; exit 1; }
echo "local backend on moto"
backend_up "$SCRATCH" || { fail "the local backend (moto + dyn53-backend serve) starts"; finish; exit 1; }
echo "  backend $BACKEND_URL, zone $ZONE_ID"
bb=$SCRATCH/bb
syslog=$SCRATCH/syslog
fw=$SCRATCH/fw
busybox_path "$bb" "$syslog"
merlin_firmware "$fw"
reported() { cat "$fw/ddns_custom_updated.log"; }

# ddns_start JFFS WANIP [VAR=VALUE...]: the firmware's call, under BusyBox ash, bounded by
# the firmware's 120 s. Sets RC, NEW_LOG (syslog lines of this call) and REPORT.
ddns_start() {
	local jffs=$1 ip=$2 mark
	shift 2
	mark=$(wc -l <"$syslog")
	: >"$fw/ddns_custom_updated.log"
	timeout 120 env -i PATH="$bb" HOME=/root DYN53_LOGGER="$bb/logger" DYN53_BIN="$WRAPPER" \
		DYN53_DDNS_UPDATED="$fw/ddns_custom_updated" DYN53_STATUS_FILE="$SCRATCH/dyn53/status.json" \
		"$@" "$BUSYBOX" sh "$jffs/scripts/ddns-start" "$ip"
	RC=$?
	NEW_LOG=$(tail -n +$((mark + 1)) "$syslog")
	REPORT=$(reported)
	show_log "$NEW_LOG"
}
logged() { grep -qE "$1" <<<"$NEW_LOG"; }
not_grep() { ! grep -q "$@"; }

echo "install from the armv7 tarball"
J=$SCRATCH/armv7/jffs
mkdir -p "$J/scripts"
tar -xzf "$DIST/dyn53-merlin-$version-armv7.tar.gz" -C "$SCRATCH/armv7"
env -i PATH="$bb" DYN53_JFFS="$J" DYN53_NVRAM="$fw/nvram" "$BUSYBOX" sh \
	"$SCRATCH/armv7/dyn53-merlin-$version-armv7/install.sh" --wan-event >/dev/null
ok "installed" test -x "$J/addons/dyn53.d/dyn53" -a -f "$J/scripts/ddns-start"
host_add "$SCRATCH/merlin-host.txt" merlin.example.com --types A --allow-explicit-ip ||
	{ cat "$SCRATCH/merlin-host.txt"; fail "host add"; finish; exit 1; }
conf=$J/addons/dyn53.d/dyn53.conf
# The printed config, pasted; explicit_ip=1 so the WAN address the firmware passes is used.
printed_config "$SCRATCH/merlin-host.txt" merlin | sed 's/^explicit_ip=0$/explicit_ip=1/' >"$conf"
secret=$(sed -n 's/^secret=//p' "$conf")
ok "config has the printed url, secret and hostname" \
	test -n "$secret" -a "$(sed -n 's/^hostname=//p' "$conf")" = merlin.example.com
WRAPPER=$SCRATCH/armv7/qemu/dyn53
mkdir -p "$(dirname "$WRAPPER")"
emulated_bin "$WRAPPER" "$J/addons/dyn53.d/dyn53" armv7-unknown-linux-musleabi

echo "ddns-start 81.2.69.142 (first time)"
ddns_start "$J" 81.2.69.142
ok "ddns-start exits 0" test "$RC" = 0
ok "dyn53 got the firmware's address: --ip 81.2.69.142" grep -q -- '--ip 81.2.69.142' "$WRAPPER.calls"
ok "ddns_custom_updated 1 recorded (once)" test "$REPORT" = 1
ok "logged 'merlin.example.com A changed none -> 81.2.69.142'" logged '^dyn53\..* merlin\.example\.com A changed none -> 81\.2\.69\.142$'
ok "Route 53 (moto API): merlin.example.com A 81.2.69.142" test "$(record merlin.example.com A)" = 81.2.69.142
status_ok() {
	local f=$SCRATCH/dyn53/status.json
	grep -q '^{"time":[0-9]*,"exit":0,' "$f" && grep -q '"result":"changed","address":"81.2.69.142"' "$f" &&
		test "$(stat -c %a "$f")" = 644
}
ok "status file (for the web page): exit 0, changed to 81.2.69.142, mode 0644" status_ok

echo "ddns-start 81.2.69.142 (again)"
ddns_start "$J" 81.2.69.142
ok "ddns_custom_updated 1 recorded" test "$REPORT" = 1
ok "logged 'unchanged 81.2.69.142'" logged 'merlin\.example\.com A unchanged 81\.2\.69\.142$'

echo "wrong secret"
cp -p "$conf" "$SCRATCH/good.conf"
wrong=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
sed -i "s/^secret=.*/secret=$wrong/" "$conf"
ddns_start "$J" 81.2.69.200
ok "ddns_custom_updated 0 recorded (once)" test "$REPORT" = 0
ok "the failure is logged, exit 2 (fix the config)" logged 'ddns-start 81\.2\.69\.200: failed \(exit 2'
ok "nothing changed in Route 53" test "$(record merlin.example.com A)" = 81.2.69.142
not_ok "neither secret appears in the log" grep -qe "$secret" -e "$wrong" "$syslog"
cp -p "$SCRATCH/good.conf" "$conf"

echo "backend down"
backend_stop
start=$(date +%s)
ddns_start "$J" 81.2.69.201
echo "    ddns-start took $(($(date +%s) - start)) s"
ok "ddns-start ended within the firmware's 120 s (not killed by timeout 120)" test "$RC" != 124
ok "ddns_custom_updated 0 recorded" test "$REPORT" = 0
ok "logged as a temporary failure (exit 1)" logged 'failed \(exit 1'
ok "nothing changed in Route 53" test "$(record merlin.example.com A)" = 81.2.69.142
backend_serve "$SCRATCH" || fail "backend restarts"

echo "hung backend (accepts, never answers): the watchdog reports in time"
hung_port=$(aws free-port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); time.sleep(600)' "$hung_port" &
RT_PIDS+=($!)
wait_for 30 port_open "$hung_port"
sed -i "s#^url=.*#url=http://127.0.0.1:$hung_port/#" "$conf"
ddns_start "$J" 81.2.69.202 DYN53_WATCHDOG=5
ok "ddns_custom_updated 0 recorded" test "$REPORT" = 0
ok "logged 'no result after 5 s, stopped dyn53'" logged 'no result after 5 s, stopped dyn53'
cp -p "$SCRATCH/good.conf" "$conf"

echo "wan-event (dual WAN): the primary WAN connects with a new address"
printf 'jffs2_scripts=1\nwan_primary=0\nwan0_ipaddr=81.2.69.143\nwan1_ipaddr=81.2.69.144\n' >"$fw/nvram.txt"
wan_event() {
	local mark
	mark=$(wc -l <"$syslog")
	: >"$fw/ddns_custom_updated.log"
	env -i PATH="$bb" HOME=/root DYN53_LOGGER="$bb/logger" DYN53_BIN="$WRAPPER" DYN53_NVRAM="$fw/nvram" \
		DYN53_DDNS_UPDATED="$fw/ddns_custom_updated" DYN53_STATUS_FILE="$SCRATCH/dyn53/status.json" \
		"$BUSYBOX" sh "$J/scripts/wan-event" "$@"
	[ "$2" = connected ] && [ "$1" = 0 ] && wait_for 120 test -s "$fw/ddns_custom_updated.log"
	NEW_LOG=$(tail -n +$((mark + 1)) "$syslog")
	show_log "$NEW_LOG"
}
wan_event 1 connected
ok "wan1 (not primary) connected: nothing runs" test -z "$NEW_LOG" -a -z "$(reported)"
wan_event 0 disconnected
ok "wan0 disconnected: nothing runs" test -z "$NEW_LOG" -a -z "$(reported)"
wan_event 0 connected
ok "wan0 connected: ddns_custom_updated 1" test "$(reported)" = 1
ok "Route 53: merlin.example.com A 81.2.69.143 (nvram wan0_ipaddr)" test "$(record merlin.example.com A)" = 81.2.69.143

echo "LAN hosts: lan_prefix=1 sends the nvram IPv6 prefix (ipv6_prefix, ipv6_prefix_length)"
host_add "$SCRATCH/lan-host.txt" lanmerlin.example.com --types A --allow-explicit-ip \
	--lan nas.example.com=::1234 --lan cam.example.com=eui64:00:11:22:33:44:55 --lan tv.example.com=::a:b:c:d ||
	{ cat "$SCRATCH/lan-host.txt"; fail "host add"; finish; exit 1; }
lanconf=$SCRATCH/lan.conf
printed_config "$SCRATCH/lan-host.txt" merlin | sed 's/^explicit_ip=0$/explicit_ip=1/' >"$lanconf"
chmod 600 "$lanconf"
lan_records() { echo "$(record nas.example.com AAAA) $(record cam.example.com AAAA) $(record tv.example.com AAAA)"; }
printf 'jffs2_scripts=1\nwan_primary=0\nipv6_prefix=2001:db8:1:10::\nipv6_prefix_length=64\n' >"$fw/nvram.txt"
: >"$WRAPPER.calls"
ddns_start "$J" 81.2.69.160 DYN53_CONFIG="$lanconf" DYN53_NVRAM="$fw/nvram"
ok "lan_prefix not set: no --lan-prefix" not_grep -- --lan-prefix "$WRAPPER.calls"
ok "and no LAN record is written" test "$(lan_records)" = "none none none"
echo "lan_prefix=1" >>"$lanconf"
ddns_start "$J" 81.2.69.160 DYN53_CONFIG="$lanconf" DYN53_NVRAM="$fw/nvram"
ok "lan_prefix=1: dyn53 update --lan-prefix 2001:db8:1:10::/64" \
	grep -q -- 'update --lan-prefix 2001:db8:1:10::/64$' "$WRAPPER.calls"
ok "ddns_custom_updated 1" test "$REPORT" = 1
ok "Route 53: the 3 LAN records in 2001:db8:1:10::/64" test "$(lan_records)" = \
	"2001:db8:1:10::1234 2001:db8:1:10:211:22ff:fe33:4455 2001:db8:1:10:a:b:c:d"
sed -i 's/^ipv6_prefix=.*/ipv6_prefix=2001:db8:7:10::/' "$fw/nvram.txt"
ddns_start "$J" 81.2.69.160 DYN53_CONFIG="$lanconf" DYN53_NVRAM="$fw/nvram"
ok "a new prefix in nvram: all 3 LAN records moved to 2001:db8:7:10::/64" test "$(lan_records)" = \
	"2001:db8:7:10::1234 2001:db8:7:10:211:22ff:fe33:4455 2001:db8:7:10:a:b:c:d"
before=$(lan_records)
cp "$fw/nvram.txt" "$SCRATCH/nvram.ok"
for bad in "ipv6_prefix=2001:db8:zz::" "ipv6_prefix_length=72" "ipv6_prefix=fd00:1:2:3::" "ipv6_prefix="; do
	sed "s/^${bad%%=*}=.*/$bad/" "$SCRATCH/nvram.ok" >"$fw/nvram.txt"
	: >"$WRAPPER.calls"
	ddns_start "$J" 81.2.69.160 DYN53_CONFIG="$lanconf" DYN53_NVRAM="$fw/nvram"
	ok "nvram $bad: logged, no --lan-prefix, the update still runs and reports 1" \
		test "$REPORT" = 1 -a -n "$(grep 'IPv6 LAN prefix' <<<"$NEW_LOG")" -a -z "$(grep -e --lan-prefix "$WRAPPER.calls")"
done
ok "LAN records untouched" test "$(lan_records)" = "$before"
printf 'jffs2_scripts=1\nwan_primary=0\n' >"$fw/nvram.txt"

echo "aarch64 binary through the Entware package (aarch64-3.10)"
root=$SCRATCH/entware
J=$root/jffs
mkdir -p "$J/scripts"
opkg_unpack "$(ipk_file aarch64-3.10)" "$root" >/dev/null
env -i PATH="$bb" DYN53_JFFS="$J" DYN53_OPT="$root/opt" DYN53_NVRAM="$fw/nvram" "$BUSYBOX" sh \
	"$root/opt/share/dyn53/merlin/install.sh" >/dev/null
host_add "$SCRATCH/entware-host.txt" entware.example.com --types A --allow-explicit-ip ||
	{ cat "$SCRATCH/entware-host.txt"; fail "host add"; finish; exit 1; }
printed_config "$SCRATCH/entware-host.txt" merlin | sed 's/^explicit_ip=0$/explicit_ip=1/' >"$root/opt/etc/dyn53.conf"
WRAPPER=$root/qemu/dyn53
mkdir -p "$root/qemu"
emulated_bin "$WRAPPER" "$root/opt/bin/dyn53" aarch64-unknown-linux-musl
ddns_start "$J" 81.2.69.150 DYN53_OPT="$root/opt"
ok "dyn53 read /opt/etc/dyn53.conf" grep -q -- "-c $root/opt/etc/dyn53.conf" "$WRAPPER.calls"
ok "ddns_custom_updated 1 recorded" test "$REPORT" = 1
ok "Route 53 (moto API): entware.example.com A 81.2.69.150" test "$(record entware.example.com A)" = 81.2.69.150
finish

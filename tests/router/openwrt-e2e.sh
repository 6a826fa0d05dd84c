#!/usr/bin/env bash
# OpenWrt end to end with real parts: the mipsel_24kc and aarch64_generic packages installed
# into offline roots as opkg does, the installed binary under qemu-user, the installed
# hotplug script under BusyBox ash as netifd calls it (ACTION, INTERFACE), and the local
# backend (dyn53-backend serve) on moto, with the config `dyn53-backend host add` printed.
# Checks the Route 53 records read back from moto's API and the syslog lines:
# set, then unchanged; ifupdate; events for other interfaces and ifdown ignored; backend
# unreachable: a logged failure, exit 1, nothing changed; service disabled (rc.d link
# gone, or UCI enabled 0): nothing runs; the periodic re-check the procd service runs;
# IPv6: an AAAA record on wan6 (ifupdate) and on PPPoE's wan_6; the aarch64 binary. The
# hotplug script asks `dyn53 interfaces` which events concern it: UCI booleans (off,
# disabled), quoted option names and records without an interface follow the client's rules.
# LAN hosts: with option lan_prefix on, the hotplug script reads the lan interface's prefix
# from netifd (ubus + jsonfilter stand-ins, netifd-lan-status.json: its real JSON shape) and a
# wan6 ifupdate with a new prefix moves the host's 3 LAN records, the status file and `dyn53
# status` name them with their addresses; the periodic re-check (dyn53-run -l, as the init
# script starts it) sends a prefix no event announced; off, missing or garbage prefix: no
# --lan-prefix, the update still runs.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

need_router_binaries mipsel-unknown-linux-musl aarch64-unknown-linux-musl || exit 1
scratch
"$REPO/.ci/build-ipk" mipsel_24kc aarch64_generic >/dev/null || { fail "build-ipk"; finish; exit 1; }
echo "local backend on moto"
backend_up "$SCRATCH" || { fail "the local backend (moto + dyn53-backend serve) starts"; finish; exit 1; }
echo "  backend $BACKEND_URL, zone $ZONE_ID"
bb=$SCRATCH/bb
syslog=$SCRATCH/syslog
busybox_path "$bb" "$syslog"
# uci, ubus and jsonfilter, which the hotplug script asks for the LAN prefix.
tools=$SCRATCH/openwrt-tools
openwrt_tools "$tools"

enable_service() {
	local start
	start=$(sed -n 's/^START=//p' "$1/etc/init.d/dyn53")
	mkdir -p "$1/etc/rc.d"
	ln -sf ../init.d/dyn53 "$1/etc/rc.d/S${start}dyn53"
}
# What `/etc/init.d/dyn53 disable` does (rc.common).
disable_service() { rm -f "$1"/etc/rc.d/S??dyn53 "$1"/etc/rc.d/K??dyn53; }

# router ROOT ARCH TRIPLE HOSTNAME TYPES [HOST ADD OPTIONS]: an offline OpenWrt root with the package installed as
# opkg does (data, then postinst with IPKG_INSTROOT), the service enabled as
# `/etc/init.d/dyn53 enable` does, the config `host add` printed for HOSTNAME (record types
# TYPES, backend BACKEND_URL) pasted into
# /etc/config/dyn53 (0600), and a dyn53 wrapper running the installed binary under qemu.
router() {
	local root=$1 arch=$2 triple=$3 name=$4 types=$5 info
	shift 5
	mkdir -p "$root"
	info=$(opkg_unpack "$(ipk_file "$arch")" "$root") || return 1
	IPKG_INSTROOT=$root "$BUSYBOX" sh "$info/dyn53.postinst" configure || return 1
	enable_service "$root"
	host_add "$root/host-add.txt" "$name" --types "$types" "$@" || { cat "$root/host-add.txt" >&2; return 1; }
	printed_config "$root/host-add.txt" openwrt >"$root/etc/config/dyn53"
	chmod 600 "$root/etc/config/dyn53"
	mkdir -p "$root/qemu"
	emulated_bin "$root/qemu/dyn53" "$root/usr/bin/dyn53" "$triple"
}

# hotplug ROOT ACTION INTERFACE: the installed 95-dyn53 as hotplug-call runs it, under
# BusyBox ash; then waits for the update it started in the background, if it started one.
# Sets NEW_LOG to the syslog lines of this event.
hotplug() {
	local root=$1 action=$2 iface=$3 mark
	mark=$(wc -l <"$syslog")
	bbsh "$bb" PATH="$root/qemu:$tools:$bb" ACTION="$action" INTERFACE="$iface" DEVICE=eth0 \
		DYN53_ROOT="$root" DYN53_CONFIG="$root/etc/config/dyn53" -- "$root/etc/hotplug.d/iface/95-dyn53"
	if tail -n +$((mark + 1)) "$syslog" | grep -qE ": updating( \(|$)"; then
		wait_for 180 logged_since "$mark" "^dyn53\.daemon\.[a-z]+ $action $iface: (done|failed)" ||
			echo "    (no result logged within 180 s)"
	fi
	NEW_LOG=$(tail -n +$((mark + 1)) "$syslog")
	show_log "$NEW_LOG"
}
logged() { grep -qE "$1" <<<"$NEW_LOG"; }
# logged_since LINE REGEX: a syslog line after line number LINE matches.
logged_since() { tail -n +$(($1 + 1)) "$syslog" | grep -qE "$2"; }
# The update runs dyn53 made (the hotplug's `dyn53 ... interfaces` questions left out).
calls() { grep -v ' interfaces$' "$1/qemu/dyn53.calls"; }
asked() { grep -c ' interfaces$' "$1/qemu/dyn53.calls"; }

R=$SCRATCH/mipsel
echo "router: mipsel_24kc package, mipsel binary under qemu-mipsel-static"
router "$R" mipsel_24kc mipsel-unknown-linux-musl home.example.com A || { fail "set up the router root"; finish; exit 1; }
ok "postinst in the offline root left the files in place" test -x "$R/usr/bin/dyn53" -a -f "$R/etc/hotplug.d/iface/95-dyn53"
ok "the pasted config follows interface wan" grep -q "option interface 'wan'" "$R/etc/config/dyn53"
ok "no A record for home.example.com yet" test "$(record home.example.com A)" = none

echo "ifup wan (first time)"
hotplug "$R" ifup wan
ok "hotplug asked the client (dyn53 -q -c <config> interfaces), once" test "$(asked "$R")" = 1
ok "hotplug ran: dyn53 update --interface wan" test "$(calls "$R")" = "update --interface wan"
ok "logged 'home.example.com A changed none -> 127.0.0.1'" logged '^dyn53\..* home\.example\.com A changed none -> 127\.0\.0\.1$'
ok "logged 'ifup wan: done (exit 0)'" logged '^dyn53\.daemon\.info ifup wan: done \(exit 0\)$'
ok "Route 53 (moto API): home.example.com A 127.0.0.1" test "$(record home.example.com A)" = 127.0.0.1

echo "ifup wan (same address again)"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifup wan
ok "logged 'home.example.com A unchanged 127.0.0.1'" logged '^dyn53\..* home\.example\.com A unchanged 127\.0\.0\.1$'
ok "Route 53 still home.example.com A 127.0.0.1" test "$(record home.example.com A)" = 127.0.0.1

echo "ifupdate wan (e.g. PPPoE renegotiation, new prefix)"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifupdate wan
ok "ifupdate runs an update too" test "$(calls "$R")" = "update --interface wan"
ok "and logs unchanged" logged 'home\.example\.com A unchanged 127\.0\.0\.1$'

echo "events that are not for dyn53"
: >"$R/qemu/dyn53.calls"
for ev in "ifdown wan" "ifup lan" "ifupdate wan6" "ifup loopback"; do
	# shellcheck disable=SC2086 # "action interface"
	hotplug "$R" $ev
	ok "$ev: nothing runs, nothing logged" test -z "$(calls "$R")" -a -z "$NEW_LOG"
done

echo "backend unreachable"
before=$(record home.example.com A)
backend_stop
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifup wan
ok "dyn53 ran" test "$(calls "$R")" = "update --interface wan"
ok "logged as an error: 'ifup wan: failed (exit 1, temporary ...)'" \
	logged '^dyn53\.daemon\.err ifup wan: failed \(exit 1, temporary'
ok "nothing changed in Route 53" test "$(record home.example.com A)" = "$before"
backend_serve "$SCRATCH" || fail "backend restarts"

echo "service disabled"
disable_service "$R"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifup wan
ok "/etc/init.d/dyn53 disable: ifup wan runs nothing, logs nothing" test -z "$(calls "$R")" -a -z "$NEW_LOG"
enable_service "$R"
sed -i "0,/option enabled '1'/s//option enabled '0'/" "$R/etc/config/dyn53"
hotplug "$R" ifup wan
ok "UCI option enabled '0' in the global section: nothing runs either" test -z "$(calls "$R")" -a -z "$NEW_LOG"
sed -i "0,/option enabled '0'/s//option enabled '1'/" "$R/etc/config/dyn53"
# UCI's other words and quoting, read by the client, not by a parser of the hotplug's own.
cp "$R/etc/config/dyn53" "$R/config.orig"
sed -i "0,/option enabled '1'/s//option 'enabled' \"off\"/" "$R/etc/config/dyn53"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifup wan
ok "global option 'enabled' \"off\" (quoted name): nothing runs" test -z "$(calls "$R")" -a -z "$NEW_LOG"
cp "$R/config.orig" "$R/etc/config/dyn53"
printf "\tOption enabled 'x'\n" >>"$R/etc/config/dyn53"
hotplug "$R" ifup wan
ok "a config the client cannot read: logged once as an error, no update" \
	test -z "$(calls "$R")" -a "$(grep -c '^dyn53\.daemon\.err ifup wan: .*line' <<<"$NEW_LOG")" = 1
cp "$R/config.orig" "$R/etc/config/dyn53"
sed -i "/^config record/,$ s/option enabled '1'/option enabled 'disabled'/" "$R/etc/config/dyn53"
hotplug "$R" ifup wan
ok "the only record with option enabled 'disabled': nothing runs" test -z "$(calls "$R")" -a -z "$NEW_LOG"
cp "$R/config.orig" "$R/etc/config/dyn53"
sed -i "/option interface 'wan'/d" "$R/etc/config/dyn53"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifup lan
ok "a record without an interface: ifup lan runs nothing" test -z "$(calls "$R")" -a -z "$NEW_LOG"
hotplug "$R" ifup wan_6
ok "but it follows wan_6 (PPPoE's IPv6 side), as dyn53 --help says" \
	test "$(calls "$R")" = "update --interface wan_6"
cp "$R/config.orig" "$R/etc/config/dyn53"

echo "periodic re-check (the command the procd service runs)"

# start_periodic: the procd loop as the init script starts it (dyn53-run under BusyBox ash,
# every 600 s, LAN prefix on), in the background as $loop; returns after its first round
# has logged since $mark.
start_periodic() {
	bbsh "$bb" PATH="$R/qemu:$tools:$bb" DYN53_CONFIG="$R/etc/config/dyn53" -- "$R/usr/libexec/dyn53-run" -w periodic -e 600 -l \
		</dev/null >/dev/null 2>&1 &
	loop=$!
	RT_PIDS+=("$loop")
	wait_for 180 logged_since "$mark" '^dyn53\.daemon\.[a-z]+ periodic: '
}

mark=$(wc -l <"$syslog")
periodic_cmd=$(sed -n 's/.*procd_set_param command \/usr\/libexec\/dyn53-run //p' "$R/etc/init.d/dyn53")
ok "the init script runs dyn53-run -w periodic -e \"\$dyn53_every\" -l" \
	test "$periodic_cmd" = "-w periodic -e \"\$dyn53_every\" -l"
start_periodic
ok "first round at start: logged 'periodic: done (exit 0)', then it waits" \
	logged_since "$mark" '^dyn53\.daemon\.info periodic: done \(exit 0\)$'
ok "still running (sleeping until the next round)" test -n "$(pgrep -P "$loop")"
stop_tree "$loop"

echo "IPv6: an AAAA record on wan6, the backend reached over IPv6 (it sees ::1)"
"$BACKEND" serve --listen "[::1]:$BACKEND_PORT" >>"$SCRATCH/serve6.log" 2>&1 &
RT_PIDS+=($!)
wait_for 60 port_open "$BACKEND_PORT" ::1 || fail "dyn53-backend serve on [::1] starts"
R=$SCRATCH/mipsel6
BACKEND_URL="http://[::1]:$BACKEND_PORT/" router "$R" mipsel_24kc mipsel-unknown-linux-musl home6.example.com AAAA ||
	fail "set up the IPv6 router root"
ok "the pasted config puts the AAAA record on wan6 and PPPoE's wan_6" \
	grep -q "option interface 'wan6 wan_6'" "$R/etc/config/dyn53"
hotplug "$R" ifupdate wan6
ok "ifupdate wan6 (new prefix): dyn53 update --interface wan6" test "$(calls "$R")" = "update --interface wan6"
ok "logged 'home6.example.com AAAA changed none -> ::1'" logged 'home6\.example\.com AAAA changed none -> ::1$'
ok "Route 53 (moto API): home6.example.com AAAA ::1" test "$(record home6.example.com AAAA)" = ::1
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifup wan
ok "ifup wan: no record on wan, nothing runs" test -z "$(calls "$R")" -a -z "$NEW_LOG"
# PPPoE with IPv6: netifd names the DHCPv6 side of the link wan_6.
hotplug "$R" ifup wan_6
ok "PPPoE: a record on wan_6 follows ifup wan_6 (unchanged ::1)" logged 'home6\.example\.com AAAA unchanged ::1$'

echo "LAN hosts: the LAN prefix from netifd (ubus) goes with the wan6 update"
R=$SCRATCH/mipsel-lan
BACKEND_URL="http://[::1]:$BACKEND_PORT/" router "$R" mipsel_24kc mipsel-unknown-linux-musl lanhome.example.com AAAA \
	--lan nas.example.com=::1234 --lan cam.example.com=eui64:00:11:22:33:44:55 --lan tv.example.com=::a:b:c:d ||
	fail "set up the LAN router root"
lan_records() { echo "$(record nas.example.com AAAA) $(record cam.example.com AAAA) $(record tv.example.com AAAA)"; }
# netifd's answer for the lan interface: a ULA and a global prefix assignment (real shape).
cp "$ROUTER_TESTS/netifd-lan-status.json" "$tools/netifd/lan.json"
hotplug "$R" ifupdate wan6
ok "option lan_prefix not set: no prefix sent (dyn53 update --interface wan6)" \
	test "$(calls "$R")" = "update --interface wan6"
ok "and no LAN record is written" test "$(lan_records)" = "none none none"
sed -i "/^config dyn53/a\\\toption lan_prefix '1'" "$R/etc/config/dyn53"
cp "$R/etc/config/dyn53" "$R/config.lan"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifupdate wan6
ok "option lan_prefix '1': the global assignment of interface lan is sent (the ULA one skipped)" \
	test "$(calls "$R")" = "update --interface wan6 --lan-prefix 2001:db8:1:10::/64"
ok "logged 'ifupdate wan6: done (exit 0)'" logged '^dyn53\.daemon\.info ifupdate wan6: done \(exit 0\)$'
ok "Route 53 (moto API): the 3 LAN records in 2001:db8:1:10::/64" test "$(lan_records)" = \
	"2001:db8:1:10::1234 2001:db8:1:10:211:22ff:fe33:4455 2001:db8:1:10:a:b:c:d"
lan_status() { grep -c "\"lan_prefix\":\"$1\",\"lan\":\"nas.example.com=$2 cam.example.com=$3 tv.example.com=$4\"" "$SCRATCH/dyn53-status.json"; }
ok "status file: the AAAA entry names the prefix and each LAN record's address (from the answer)" \
	test "$(lan_status 2001:db8:1:10::/64 2001:db8:1:10::1234 2001:db8:1:10:211:22ff:fe33:4455 2001:db8:1:10:a:b:c:d)" = 1
shown=$(DYN53_STATUS_FILE="$SCRATCH/dyn53-status.json" "$R/qemu/dyn53" -c "$R/etc/config/dyn53" status)
ok "dyn53 status shows them: '  LAN 2001:db8:1:10::/64: nas.example.com=2001:db8:1:10::1234 ...'" \
	grep -qx '  LAN 2001:db8:1:10::/64: nas.example.com=2001:db8:1:10::1234 cam.example.com=2001:db8:1:10:211:22ff:fe33:4455 tv.example.com=2001:db8:1:10:a:b:c:d' <<<"$shown"
echo "the ISP delegates a new prefix: netifd reassigns lan, then wan6 ifupdate"
sed -i 's/"2001:db8:1:10::/"2001:db8:7:10::/' "$tools/netifd/lan.json"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifupdate wan6
ok "the new prefix is sent" test "$(calls "$R")" = "update --interface wan6 --lan-prefix 2001:db8:7:10::/64"
ok "Route 53: all 3 LAN records moved to 2001:db8:7:10::/64" test "$(lan_records)" = \
	"2001:db8:7:10::1234 2001:db8:7:10:211:22ff:fe33:4455 2001:db8:7:10:a:b:c:d"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifup wan_6
ok "PPPoE's wan_6 sends it too" test "$(calls "$R")" = "update --interface wan_6 --lan-prefix 2001:db8:7:10::/64"
echo "a prefix change no event announced: the periodic re-check (dyn53-run -l, as procd runs it) sends it"
sed -i 's/"2001:db8:7:10::/"2001:db8:8:10::/' "$tools/netifd/lan.json"
: >"$R/qemu/dyn53.calls"
mark=$(wc -l <"$syslog")
start_periodic
ok "the periodic round ran dyn53 update --lan-prefix 2001:db8:8:10::/64" \
	test "$(calls "$R")" = "update --lan-prefix 2001:db8:8:10::/64"
ok "logged 'periodic: done (exit 0)'" logged_since "$mark" '^dyn53\.daemon\.info periodic: done \(exit 0\)$'
ok "Route 53: all 3 LAN records moved to 2001:db8:8:10::/64" test "$(lan_records)" = \
	"2001:db8:8:10::1234 2001:db8:8:10:211:22ff:fe33:4455 2001:db8:8:10:a:b:c:d"
ok "status file: the new addresses" \
	test "$(lan_status 2001:db8:8:10::/64 2001:db8:8:10::1234 2001:db8:8:10:211:22ff:fe33:4455 2001:db8:8:10:a:b:c:d)" = 1
stop_tree "$loop"
before=$(lan_records)
sed -i 's/"2001:db8:8:10::"/"2001:db8:8:10::zz"/' "$tools/netifd/lan.json"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifupdate wan6
ok "garbage prefix from ubus: logged, no --lan-prefix, the update still runs" \
	test "$(calls "$R")" = "update --interface wan6"
ok "logged 'interface lan gave a LAN prefix that is not a global /48 to /64 one; updating without it'" \
	logged 'ifupdate wan6: interface lan gave a LAN prefix that is not a global /48 to /64 one; updating without it$'
ok "logged 'ifupdate wan6: done (exit 0)'" logged '^dyn53\.daemon\.info ifupdate wan6: done \(exit 0\)$'
ok "LAN records untouched" test "$(lan_records)" = "$before"
rm "$tools/netifd/lan.json"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifupdate wan6
ok "no lan interface in netifd: no --lan-prefix, the update still runs" test "$(calls "$R")" = "update --interface wan6"
ok "logged 'interface lan has no global IPv6 prefix; updating without it'" \
	logged 'ifupdate wan6: interface lan has no global IPv6 prefix; updating without it$'
ok "LAN records untouched" test "$(lan_records)" = "$before"
sed 's/"2001:db8:1:10::"/"2001:db8:5:10::"/' "$ROUTER_TESTS/netifd-lan-status.json" >"$tools/netifd/lan.json"
sed -i "s/option interface 'wan6 wan_6'/option interface 'wan'/" "$R/etc/config/dyn53"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifupdate wan6
ok "no record on wan6: its ifupdate still sends the prefix (dyn53 update --lan-prefix, all records)" \
	test "$(calls "$R")" = "update --lan-prefix 2001:db8:5:10::/64"
ok "Route 53: the LAN records moved to 2001:db8:5:10::/64" test "$(lan_records)" = \
	"2001:db8:5:10::1234 2001:db8:5:10:211:22ff:fe33:4455 2001:db8:5:10:a:b:c:d"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifup lan
ok "other interfaces still run nothing" test -z "$(calls "$R")" -a -z "$NEW_LOG"
cp "$R/config.lan" "$R/etc/config/dyn53"
sed -i "0,/option enabled '1'/s//option enabled '0'/" "$R/etc/config/dyn53"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifupdate wan6
ok "dyn53 switched off (enabled '0'): lan_prefix on runs nothing either" test -z "$(calls "$R")" -a -z "$NEW_LOG"
cp "$R/config.lan" "$R/etc/config/dyn53"
sed -i "s/option lan_prefix '1'/option lan_prefix 'lan guest'/" "$R/etc/config/dyn53"
: >"$R/qemu/dyn53.calls"
hotplug "$R" ifupdate wan6
ok "option lan_prefix 'lan guest' (not an interface name): logged, update without a prefix" \
	test "$(calls "$R")" = "update --interface wan6" -a -n "$(grep "not an interface name" <<<"$NEW_LOG")"
cp "$R/config.lan" "$R/etc/config/dyn53"

R=$SCRATCH/aarch64
echo "router: aarch64_generic package, aarch64 binary under qemu-aarch64-static"
router "$R" aarch64_generic aarch64-unknown-linux-musl router2.example.com A || { fail "set up the aarch64 root"; finish; exit 1; }
hotplug "$R" ifup wan
ok "logged 'router2.example.com A changed none -> 127.0.0.1'" logged 'router2\.example\.com A changed none -> 127\.0\.0\.1$'
ok "Route 53 (moto API): router2.example.com A 127.0.0.1" test "$(record router2.example.com A)" = 127.0.0.1
finish

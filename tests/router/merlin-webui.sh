#!/usr/bin/env bash
# Asuswrt-Merlin addon page, end to end in a real browser: the armv7 tarball installed with
# install.sh on a firmware with addon pages (rc_support am_addons), the page mounted in a
# /www/user slot with a WAN menu entry, then headless Chromium (merlin_webui.py) loads the
# page from a stand-in of the router's httpd, pastes the block `dyn53-backend host add`
# printed, saves; the REAL service-event hook runs under BusyBox ash, writes the config and
# the secret file, and runs the real binary (qemu-arm) against the local backend on moto;
# the page then shows the status file, with the LAN records the update moved into the nvram
# prefix (the pasted lan_prefix=1 ticks the page's box); a status file with markup in it
# shows as text. Uninstall releases the slot and leaves /jffs and
# /www byte-for-byte as before. Screenshots: $DYN53_TEST_OUT (default: the scratch dir).
# Stood in for here (no router): /usr/sbin/helper.sh (the three addon-API functions, with
# the firmware's behaviour, over the scratch /jffs and /www), `mount -o bind` (a recorder
# that copies, since a test may not bind-mount), and the httpd (see merlin_webui.py).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

need_router_binaries armv7-unknown-linux-musleabi || exit 1
command -v chromium >/dev/null || { fail "chromium is installed (make setup)"; finish; exit 1; }
scratch
version=$(cargo_version)
"$REPO/.ci/build-ipk" armv7-3.2 >/dev/null || { fail "build-ipk armv7-3.2"; finish; exit 1; }
out=${DYN53_TEST_OUT:-$SCRATCH/out}
mkdir -p "$out"
bb=$SCRATCH/bb
fw=$SCRATCH/fw
syslog=$SCRATCH/syslog
busybox_path "$bb" "$syslog"
merlin_firmware "$fw"
echo 'rc_support=mssid 2.4G 5G update usbX2 am_addons' >>"$fw/nvram.txt"

J=$SCRATCH/jffs
WWW=$SCRATCH/www
TMPFS=$SCRATCH/tmp
mkdir -p "$J/scripts" "$J/addons" "$WWW/require/modules" "$TMPFS/var/wwwext"
# The firmware keeps every add-on's settings here; another add-on's line must stay.
echo 'other_addon_theme dark' >"$J/addons/custom_settings.txt"
ln -s "$TMPFS/var/wwwext" "$WWW/user"
ln -s "$TMPFS/var/wwwext" "$WWW/ext"
# The part of menuTree.js an addon edits: the WAN tabs, with the firmware's DDNS page.
cat >"$WWW/require/modules/menuTree.js" <<'JS'
define(function(){
	var menuTree = {
		list: [
			{menuName: "WAN", index: "menu_WAN", tab: [
				{url: "Advanced_WAN_Content.asp", tabName: "__INHERIT__"},
				{url: "Advanced_ASUSDDNS_Content.asp", tabName: "__INHERIT__"},
				{url: "NULL", tabName: "__INHERIT__"}
			]}
		]
	};
	return menuTree;
});
JS
# A page of another add-on in slot 1: dyn53 must take another slot and leave it alone.
echo '<!-- another add-on -->' >"$WWW/user/user1.asp"

# helper.sh stand-in: the addon API as the firmware implements it (checked against
# RMerl/asuswrt-merlin.ng release/src/router/others/helper.sh: the first slot that is free or
# holds the same page; "key value" lines, set = delete then append), over the scratch dirs.
cat >"$fw/helper.sh" <<HELPER
# /usr/sbin/helper.sh stand-in (tests): am_get_webui_page, am_settings_get, am_settings_set.
am_get_webui_page() {
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		page=$WWW/user/user\$i.asp
		if [ ! -f "\$page" ] || [ "\$(md5sum <"\$1")" = "\$(md5sum <"\$page")" ]; then
			am_webui_page=user\$i.asp
			return
		fi
	done
	am_webui_page=none
}
am_settings_get() { grep "^\$1 " "$J/addons/custom_settings.txt" 2>/dev/null | cut -f2- -d' '; }
am_settings_set() {
	f=$J/addons/custom_settings.txt
	[ -f "\$f" ] || : >"\$f"
	sed -i "/^\$1 /d" "\$f"
	echo "\$@" >>"\$f"
}
HELPER
# mount/umount stand-ins: a test cannot bind-mount, so "mount -o bind A B" copies A over B
# (keeping B's original aside) and umount B puts the original back; both are recorded.
cat >"$fw/mount" <<MOUNT
#!$BUSYBOX sh
[ "\$1 \$2" = "-o bind" ] || exit 1
grep -q " on \$4\$" "$fw/mounts" 2>/dev/null && { echo "mount: \$4 busy" >&2; exit 1; }
[ -f "$fw/under" ] || cp "\$4" "$fw/under"
cp "\$3" "\$4" && echo "\$3 on \$4" >>"$fw/mounts"
MOUNT
cat >"$fw/umount" <<UMOUNT
#!$BUSYBOX sh
grep -q " on \$1\$" "$fw/mounts" 2>/dev/null || { echo "umount: \$1 not mounted" >&2; exit 1; }
cp "$fw/under" "\$1" && sed -i "\\~ on \$1\$~d" "$fw/mounts" && echo "umount \$1" >>"$fw/umounts"
UMOUNT
chmod 755 "$fw/mount" "$fw/umount"
# The same environment for install, the firmware's hooks and uninstall.
ENV=(DYN53_JFFS="$J" DYN53_NVRAM="$fw/nvram" DYN53_HELPER="$fw/helper.sh" DYN53_WWW="$WWW"
	DYN53_TMP="$TMPFS" DYN53_MOUNT="$fw/mount" DYN53_UMOUNT="$fw/umount" DYN53_DDNS_UPDATED="$fw/ddns_custom_updated"
	DYN53_STATUS_FILE="$TMPFS/dyn53/status.json" DYN53_OPT="$SCRATCH/no-opt")
before_jffs=$(tree "$J")
before_www=$(tree "$WWW"; tree "$TMPFS/var/wwwext")
cp "$WWW/require/modules/menuTree.js" "$SCRATCH/menuTree.orig"

echo "install on a firmware with addon pages"
tar -xzf "$DIST/dyn53-merlin-$version-armv7.tar.gz" -C "$SCRATCH"
dl=$SCRATCH/dyn53-merlin-$version-armv7
msg=$(bbsh "$bb" "${ENV[@]}" -- "$dl/install.sh" 2>&1)
ok "install exits 0" test $? = 0
addon=$J/addons/dyn53.d
ok "the page took the first free slot, user2.asp (user1 is another add-on's)" \
	test "$(cat "$addon/webui.page" 2>/dev/null)" = user2.asp -a -n "$(cmp "$WWW/user/user2.asp" "$dl/dyn53.asp" && echo same)"
ok "install tells the owner where the page is" grep -q 'WAN > dyn53' <<<"$msg"
after_ddns() { grep -A1 'Advanced_ASUSDDNS_Content.asp' "$TMPFS/menuTree.js" | grep -q "$1"; }
ok "menu copy has the dyn53 tab right after DDNS" after_ddns '{url: "user2.asp", tabName: "dyn53"},'
ok "menuTree.js bind-mounted from the copy, serving the dyn53 tab" \
	test "$(cat "$fw/mounts")" = "$TMPFS/menuTree.js on $WWW/require/modules/menuTree.js" -a \
	"$(grep -c 'tabName: "dyn53"' "$WWW/require/modules/menuTree.js")" = 1
ok "status linked for the page at /ext/dyn53/status.htm" \
	test "$(readlink "$WWW/ext/dyn53/status.htm")" = "$TMPFS/dyn53/status.json"
for s in services-start service-event; do
	ok "/jffs/scripts/$s calls dyn53 (tagged line)" grep -q "addons/dyn53.d/$s\" \"\$@\" # dyn53\$" "$J/scripts/$s"
done
# A reboot: tmpfs is empty again and the firmware runs services-start.
cp "$fw/under" "$WWW/require/modules/menuTree.js"
rm -rf "${TMPFS:?}/menuTree.js" "$WWW/user/user2.asp" "$WWW/ext/dyn53" "$fw/mounts" "$fw/under"
bbsh "$bb" "${ENV[@]}" -- "$J/scripts/services-start"
ok "after a reboot services-start mounts the page again in the same slot" \
	test -f "$WWW/user/user2.asp" -a "$(grep -c 'tabName: "dyn53"' "$TMPFS/menuTree.js")" = 1
bbsh "$bb" "${ENV[@]}" -- "$J/scripts/services-start"
ok "running it twice adds no second menu entry or mount" \
	test "$(grep -c 'tabName: "dyn53"' "$WWW/require/modules/menuTree.js")" = 1 -a "$(wc -l <"$fw/mounts")" = 1

echo "local backend on moto"
backend_up "$SCRATCH" || { fail "the local backend starts"; finish; exit 1; }
# Two LAN hosts behind the router; the page's LAN prefix box is ticked by the pasted
# lan_prefix=1, and the firmware's nvram has a delegated prefix.
host_add "$SCRATCH/host.txt" web.example.com --types A \
	--lan nas.example.com=::1234 --lan cam.example.com=eui64:00:11:22:33:44:55 ||
	{ cat "$SCRATCH/host.txt"; fail "host add"; finish; exit 1; }
printed_config "$SCRATCH/host.txt" merlin >"$SCRATCH/paste.txt"
echo 'lan_prefix=1' >>"$SCRATCH/paste.txt"
printf 'ipv6_prefix=2001:db8:1:10::\nipv6_prefix_length=64\n' >>"$fw/nvram.txt"
# A status file left with markup where names go (the page shows it before the first save).
mkdir -p "$TMPFS/dyn53"
cat >"$TMPFS/dyn53/status.json" <<'STATUS'
{"time":1764577200,"exit":0,"records":[
{"hostname":"<img src=x onerror=window.__pwned=1>","type":"AAAA","result":"unchanged","address":"2001:db8::7","message":"unchanged 2001:db8::7","time":1764577200,"lan_prefix":"2001:db8:9::/64","lan":"<b>x</b>=2001:db8:9::1 old.example.com=2001:db8:9::2"}
]}
STATUS
secret=$(sed -n 's/^secret=//p' "$SCRATCH/paste.txt")
WRAPPER=$SCRATCH/qemu/dyn53
mkdir -p "$(dirname "$WRAPPER")"
emulated_bin "$WRAPPER" "$addon/dyn53" armv7-unknown-linux-musleabi

echo "the page in headless Chromium: paste, Apply, status"
hook=(env -i PATH="$bb" HOME=/root TMPDIR="$SCRATCH" DYN53_LOGGER="$bb/logger" DYN53_BIN="$WRAPPER"
	"${ENV[@]}" "$BUSYBOX" sh "$J/scripts/service-event")
python3 "$ROUTER_TESTS/merlin_webui.py" "$WWW" "$(cat "$addon/webui.page")" "$J/addons/custom_settings.txt" "$SCRATCH/paste.txt" "$out" \
	-- "${hook[@]}" 2>&1 | sed 's/^/    /'
ok "the browser run passed (paste filled the form, Apply saved, status shown)" test "${PIPESTATUS[0]}" = 0
ok "before saving: markup in the status file showed as text (no element, nothing ran)" \
	grep -qF '&lt;b&gt;x&lt;/b&gt;</td><td>2001:db8:9::1</td>' "$out/status-before-save.html"
conf=$addon/dyn53.conf
ok "config written by the hook, mode 0600" test "$(stat -c %a "$conf")" = 600
ok "config has the pasted url and hostname and points to the secret file" \
	grep -qx "url=$BACKEND_URL" "$conf"
ok "  records=web.example.com" grep -qx 'records=web.example.com' "$conf"
ok "  lan_prefix=1 (the LAN prefix box, ticked by the paste)" grep -qx 'lan_prefix=1' "$conf"
ok "  secret_file=$addon/secret, no secret in the config" \
	test "$(grep -c "$secret" "$conf")" = 0 -a -n "$(grep -x "secret_file=$addon/secret" "$conf")"
ok "secret file holds the pasted secret, mode 0600" \
	test "$(cat "$addon/secret")" = "$secret" -a "$(stat -c %a "$addon/secret")" = 600
not_ok "no secret left in custom_settings.txt (every addon page embeds it)" grep -q "$secret" "$J/addons/custom_settings.txt"
ok "custom_settings.txt says a secret is stored and the save worked" \
	grep -qx 'dyn53_secret_stored 1' "$J/addons/custom_settings.txt"
ok "  dyn53_result saved" grep -qx 'dyn53_result saved' "$J/addons/custom_settings.txt"
not_ok "the page as the browser shows it after saving has no secret" grep -q "$secret" "$out/page-after-save.html"
ok "the page shows the status: web.example.com A changed" grep -q 'web.example.com A: changed none -&gt; 127.0.0.1' "$out/page-after-save.html"
ok "Route 53 (moto API): web.example.com A 127.0.0.1" test "$(record web.example.com A)" = 127.0.0.1
ok "Route 53: the LAN records in the nvram prefix 2001:db8:1:10::/64" \
	test "$(record nas.example.com AAAA) $(record cam.example.com AAAA)" = "2001:db8:1:10::1234 2001:db8:1:10:211:22ff:fe33:4455"
ok "the page lists the LAN records under the prefix, name -> address" \
	grep -qF 'LAN records in 2001:db8:1:10::/64 (sent with web.example.com A):</div><table class="lan_records"><tr><td>nas.example.com</td><td>2001:db8:1:10::1234</td></tr><tr><td>cam.example.com</td><td>2001:db8:1:10:211:22ff:fe33:4455</td></tr></table>' \
	"$out/page-after-save.html"
ok "status file mode 0644, no secret" test "$(stat -c %a "$TMPFS/dyn53/status.json")" = 644 -a \
	"$(grep -c "$secret" "$TMPFS/dyn53/status.json")" = 0
ok "screenshots saved (PNG)" test "$(head -c 4 "$out/merlin-status.png" | tail -c 3)" = PNG

echo "protocol 1-query (for a 2015/2016 reference backend) is kept, not reset to 2"
sed -i '/^dyn53_protocol /d' "$J/addons/custom_settings.txt"
echo 'dyn53_protocol 1-query' >>"$J/addons/custom_settings.txt"
"${hook[@]}" start dyn53
ok "protocol=1-query written to the config" grep -qx 'protocol=1-query' "$conf"

echo "a bad save changes nothing"
cp -p "$conf" "$SCRATCH/conf.before"
printf 'dyn53_url http://x.invalid/"; reboot; "\ndyn53_secret quote"d\n' >>"$J/addons/custom_settings.txt"
"${hook[@]}" start dyn53
ok "a URL with quotes is refused: config unchanged" cmp -s "$conf" "$SCRATCH/conf.before"
ok "  and said so on the page (dyn53_result) and in the log" \
	grep -q '^dyn53_result error: the URL contains quotes' "$J/addons/custom_settings.txt"
ok "  log" grep -q 'web page: the URL contains quotes or a line break; config not changed' "$syslog"
not_ok "  the secret is still taken out of custom_settings.txt" grep -q '^dyn53_secret ' "$J/addons/custom_settings.txt"
"${hook[@]}" restart httpd
ok "other services' events are ignored" cmp -s "$conf" "$SCRATCH/conf.before"

echo "uninstall"
bbsh "$bb" "${ENV[@]}" -- "$addon/uninstall" >/dev/null 2>&1
ok "uninstall exits 0" test $? = 0
ok "page slot released, the other add-on's page kept" test ! -e "$WWW/user/user2.asp" -a -f "$WWW/user/user1.asp"
not_ok "menu entry removed from the bind-mounted copy" grep -q dyn53 "$TMPFS/menuTree.js"
not_ok "the page's settings removed from custom_settings.txt" grep -q '^dyn53_' "$J/addons/custom_settings.txt"
after_jffs=$(tree "$J")
ok "after uninstall /jffs is byte-for-byte as before" test "$before_jffs" = "$after_jffs"
[ "$before_jffs" = "$after_jffs" ] || diff <(echo "$before_jffs") <(echo "$after_jffs") | sed 's/^/    /'
# menuTree.js stays bind-mounted from the copy (add-ons share it): its text is as before.
ok "the menuTree.js httpd serves (re-bound copy) is the firmware's text again" \
	cmp -s "$WWW/require/modules/menuTree.js" "$SCRATCH/menuTree.orig"
ok "after uninstall /www and its user pages are byte-for-byte as before" \
	test "$before_www" = "$(tree "$WWW"; tree "$TMPFS/var/wwwext")"
finish

#!/usr/bin/env bash
# Asuswrt-Merlin install.sh and uninstall on scratch /jffs trees, under BusyBox ash with
# only BusyBox on PATH: what install puts down (files, modes, the tagged hook lines), that
# the owner's own ddns-start/wan-event lines stay, that a refusal changes nothing, and that
# install then uninstall leaves /jffs byte-for-byte as it was (checksum listing with modes),
# for the release tarball and for the Entware package (whose prerm uninstalls).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

need_router_binaries armv7-unknown-linux-musleabi aarch64-unknown-linux-musl || exit 1
scratch
version=$(cargo_version)
"$REPO/.ci/build-ipk" armv7-3.2 aarch64-3.10 >/dev/null || { fail "build-ipk armv7-3.2 aarch64-3.10"; finish; exit 1; }
tarball=$DIST/dyn53-merlin-$version-armv7.tar.gz
tar -xzf "$tarball" -C "$SCRATCH"
dl=$SCRATCH/dyn53-merlin-$version-armv7
bb=$SCRATCH/bb
fw=$SCRATCH/fw
syslog=$SCRATCH/syslog
busybox_path "$bb" "$syslog"
merlin_firmware "$fw"

# jffs_sh JFFS SCRIPT ARGS...: a script as the router owner runs it, over a scratch /jffs.
jffs_sh() {
	local jffs=$1
	shift
	bbsh "$bb" DYN53_JFFS="$jffs" DYN53_OPT="${OPT:-$SCRATCH/no-opt}" DYN53_NVRAM="$fw/nvram" \
		DYN53_DDNS_UPDATED="$fw/ddns_custom_updated" -- "$@"
}

hook_line() { printf 'sh "%s/addons/dyn53.d/%s" "$@" # dyn53' "$1" "$2"; }

# roundtrip NAME JFFS CHECK [install options]: install, common checks and the function
# CHECK (or :), install again, uninstall, compare the trees.
roundtrip() {
	local name=$1 jffs=$2 check=$3 before after out shebang=1
	shift 3
	echo "case: $name"
	[ ! -f "$jffs/scripts/ddns-start" ] || [ "$(head -c 2 "$jffs/scripts/ddns-start")" = '#!' ] || shebang=0
	before=$(tree "$jffs")
	out=$(jffs_sh "$jffs" "$dl/install.sh" "$@" 2>&1)
	ok "install exits 0" test $? = 0
	ok "install tells the owner to pick Custom on WAN > DDNS" grep -q 'WAN > DDNS.*Custom' <<<"$out"
	local addon=$jffs/addons/dyn53.d
	ok "binary in $addon, 0755, the tarball's" \
		test "$(stat -c %a "$addon/dyn53")" = 755 -a -n "$(cmp "$addon/dyn53" "$dl/dyn53" && echo same)"
	ok "ddns-start, wan-event, services-start, service-event, uninstall in the addon dir, 0755" \
		test "$(stat -c %a "$addon/ddns-start" "$addon/wan-event" "$addon/services-start" \
			"$addon/service-event" "$addon/uninstall" | sort -u)" = 755
	ok "config created from the template, mode 0600" \
		test "$(stat -c %a "$addon/dyn53.conf")" = 600 -a -n "$(cmp "$addon/dyn53.conf" "$dl/dyn53.conf.template" && echo same)"
	if [ "$shebang" = 1 ]; then
		ok "/jffs/scripts/ddns-start: #! line first, executable" \
			test "$(head -c 2 "$jffs/scripts/ddns-start")" = '#!' -a -x "$jffs/scripts/ddns-start"
	else
		ok "install warns that the owner's ddns-start lacks #!/bin/sh" grep -q 'does not start with #!/bin/sh' <<<"$out"
	fi
	ok "/jffs/scripts/ddns-start has exactly one dyn53 line, the hook" \
		test "$(grep -c '# dyn53$' "$jffs/scripts/ddns-start")" = 1 -a \
		"$(grep '# dyn53$' "$jffs/scripts/ddns-start")" = "$(hook_line "$jffs" ddns-start)"
	ok "services-start and service-event: exactly the hook line each (web page at boot, page saves)" \
		test "$(grep '# dyn53$' "$jffs/scripts/services-start")" = "$(hook_line "$jffs" services-start)" -a \
		"$(grep '# dyn53$' "$jffs/scripts/service-event")" = "$(hook_line "$jffs" service-event)"
	ok "no addon pages on this firmware (no am_addons): no page slot taken" test ! -e "$addon/webui.page"
	"$check" "$jffs"
	echo "url=https://example.invalid/ # owner's edit" >>"$addon/dyn53.conf"
	local conf
	conf=$(sha256sum <"$addon/dyn53.conf")
	jffs_sh "$jffs" "$dl/install.sh" "$@" >/dev/null 2>&1
	ok "installing again (upgrade) keeps one hook line and the owner's config" \
		test "$(grep -c '# dyn53$' "$jffs/scripts/ddns-start")" = 1 -a "$(sha256sum <"$addon/dyn53.conf")" = "$conf"
	out=$(jffs_sh "$jffs" "$addon/uninstall" 2>&1)
	ok "uninstall exits 0" test $? = 0
	after=$(tree "$jffs")
	ok "after uninstall /jffs is byte-for-byte as before (files, modes, checksums)" test "$before" = "$after"
	[ "$before" = "$after" ] || diff <(echo "$before") <(echo "$after") | sed 's/^/    /'
}

# 1. A router whose /jffs has nothing yet.
j=$SCRATCH/fresh/jffs
mkdir -p "$j"
roundtrip "empty /jffs (install creates scripts/ and addons/)" "$j" :

# 2. The owner already has ddns-start (no final newline) and wan-event (not executable) and
#    other add-ons; their lines must stay, in order, and come back byte for byte.
j=$SCRATCH/owner/jffs
mkdir -p "$j/scripts" "$j/addons/other.d" "$j/configs"
# shellcheck disable=SC2016 # the owner's script text, not expanded here
printf '%s\n' '#!/bin/sh' '# owner: my own notes' 'logger -t owner "ddns-start $1"' '[ -n "$1" ] || exit 0' >"$j/scripts/ddns-start"
printf 'echo done' >>"$j/scripts/ddns-start"
printf '%s\n' '#!/bin/sh' 'logger -t owner "wan-event $*"' >"$j/scripts/wan-event"
printf 'owner data\n' >"$j/addons/other.d/keep"
printf 'x=1\n' >"$j/configs/dnsmasq.conf.add"
chmod 755 "$j/scripts/ddns-start"
chmod 644 "$j/scripts/wan-event"
cp -p "$j/scripts/ddns-start" "$SCRATCH/owner.ddns-start"
owner_checks() {
	ok "ddns-start: the hook right after the #! line" \
		test "$(sed -n 2p "$1/scripts/ddns-start")" = "$(hook_line "$1" ddns-start)"
	ok "ddns-start: the owner's lines unchanged around it" \
		cmp -s <(sed '/# dyn53$/d' "$1/scripts/ddns-start") "$SCRATCH/owner.ddns-start"
	ok "wan-event: hooked and made executable (the firmware needs the run bit)" \
		test "$(sed -n 2p "$1/scripts/wan-event")" = "$(hook_line "$1" wan-event)" -a -x "$1/scripts/wan-event"
	ok "other add-ons untouched" test "$(cat "$1/addons/other.d/keep")" = "owner data"
}
roundtrip "owner's ddns-start and wan-event, install --wan-event" "$j" owner_checks --wan-event

# 3. Edge cases of the owner's ddns-start: a lone #! line without newline; no #! line.
j=$SCRATCH/lone/jffs
mkdir -p "$j/scripts"
printf '#!/bin/sh' >"$j/scripts/ddns-start"
chmod 700 "$j/scripts/ddns-start"
roundtrip "ddns-start is a lone '#!/bin/sh' without newline" "$j" :
j=$SCRATCH/noshebang/jffs
mkdir -p "$j/scripts"
printf 'echo owner\n' >"$j/scripts/ddns-start"
roundtrip "ddns-start without #! line (install warns, still restores)" "$j" :

# 4. JFFS custom scripts off: install refuses with the fix, changes nothing.
echo "case: JFFS custom scripts disabled"
j=$SCRATCH/off/jffs
mkdir -p "$j/scripts"
before=$(tree "$j")
sed -i 's/^jffs2_scripts=.*/jffs2_scripts=0/' "$fw/nvram.txt"
out=$(jffs_sh "$j" "$dl/install.sh" 2>&1)
rc=$?
sed -i 's/^jffs2_scripts=.*/jffs2_scripts=1/' "$fw/nvram.txt"
ok "install exits 2" test "$rc" = 2
ok "and says how to turn them on" grep -q 'Enable JFFS custom scripts' <<<"$out"
ok "nothing changed in /jffs" test "$before" = "$(tree "$j")"

# 5. Entware: the aarch64-3.10 package unpacked into a scratch /opt, hooked with its
#    install.sh; an upgrade (prerm upgrade) keeps the hook; removing the package (prerm
#    remove) takes it out again.
echo "case: Entware package"
root=$SCRATCH/entware
j=$root/jffs
mkdir -p "$j/scripts"
printf '#!/bin/sh\necho owner\n' >"$j/scripts/ddns-start"
chmod 755 "$j/scripts/ddns-start"
before=$(tree "$j")
info=$(opkg_unpack "$(ipk_file aarch64-3.10)" "$root")
OPT=$root/opt
out=$(jffs_sh "$j" "$OPT/share/dyn53/merlin/install.sh" 2>&1)
ok "install.sh from /opt/share/dyn53/merlin exits 0 in Entware mode" grep -q 'installed (entware)' <<<"$out"
ok "no second binary on /jffs: the hook uses /opt/bin/dyn53" test ! -e "$j/addons/dyn53.d/dyn53"
ok "no second config: /opt/etc/dyn53.conf (0600) is used" \
	test ! -e "$j/addons/dyn53.d/dyn53.conf" -a "$(stat -c %a "$OPT/etc/dyn53.conf")" = 600
ok "ddns-start hooked" grep -q '# dyn53$' "$j/scripts/ddns-start"
# The USB disk with /opt is not mounted when the firmware calls ddns-start: report 0.
: >"$fw/ddns_custom_updated.log"
: >"$syslog"
OPT=$SCRATCH/unmounted jffs_sh "$j" "$j/scripts/ddns-start" 198.51.100.4 >/dev/null 2>&1
ok "without /opt mounted, ddns-start reports 0 to the firmware" test "$(cat "$fw/ddns_custom_updated.log")" = 0
ok "and logs why (tag dyn53)" grep -q '^dyn53\..* no dyn53 binary' "$syslog"
OPT=$root/opt
out=$(bbsh "$bb" -- "$info/dyn53.postinst" configure 2>&1)
ok "postinst on the first install: tells how to hook dyn53 in" grep -q 'install.sh' <<<"$out"
out=$(bbsh "$bb" DYN53_JFFS="$j" PKG_UPGRADE=1 -- "$info/dyn53.postinst" configure 2>&1)
ok "postinst on an upgrade (PKG_UPGRADE=1) with the hook in place: no hint" test -z "$out"
# An upgrade from 0.1.0-1, whose prerm unhooked DDNS: the new postinst says how to re-hook.
unhooked=$SCRATCH/unhooked-jffs
mkdir -p "$unhooked/scripts"
out=$(bbsh "$bb" DYN53_JFFS="$unhooked" PKG_UPGRADE=1 -- "$info/dyn53.postinst" configure 2>&1)
ok "postinst on an upgrade that lost the hook: says how to re-hook" grep -q 'install.sh' <<<"$out"
ok "and changes nothing on /jffs itself" test -z "$(ls -A "$unhooked/scripts")"
# opkg upgrade or reinstall: the OLD package's prerm runs as `prerm upgrade NEW-VERSION`
# with PKG_UPGRADE=1; the hook must survive it (the new package's binary takes its place).
hooked=$(tree "$j")
bbsh "$bb" DYN53_JFFS="$j" PKG_UPGRADE=1 -- "$info/dyn53.prerm" upgrade 0.1.0-2 >/dev/null 2>&1
ok "opkg upgrade (prerm upgrade 0.1.0-2, PKG_UPGRADE=1) keeps the hook and the add-on" \
	test "$hooked" = "$(tree "$j")"
bbsh "$bb" DYN53_JFFS="$j" -- "$info/dyn53.prerm" upgrade 0.1.0-1 >/dev/null 2>&1
ok "prerm upgrade without PKG_UPGRADE (other opkg builds) keeps them too" test "$hooked" = "$(tree "$j")"
out=$(bbsh "$bb" DYN53_JFFS="$j" PKG_UPGRADE=1 -- "$j/addons/dyn53.d/uninstall" 2>&1)
ok "the add-on's uninstall called during an opkg upgrade (an older prerm) removes nothing" \
	test "$hooked" = "$(tree "$j")"
out=$(bbsh "$bb" DYN53_JFFS="$j" -- "$info/dyn53.prerm" remove 2>&1)
ok "opkg remove (prerm) runs the uninstall" grep -q 'removed' <<<"$out"
ok "after prerm /jffs is byte-for-byte as before" test "$before" = "$(tree "$j")"
finish

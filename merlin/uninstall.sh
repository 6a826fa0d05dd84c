#!/bin/sh
# Removes dyn53 from Asuswrt-Merlin (installed as /jffs/addons/dyn53.d/uninstall): takes
# the web page and its menu entry out, deletes the lines tagged "# dyn53" from
# /jffs/scripts/ddns-start, wan-event, services-start and service-event, and the page's
# dyn53_* settings from /jffs/addons/custom_settings.txt, undoes the mode
# change and the files install.sh made (install.state says which), and removes
# /jffs/addons/dyn53.d with the config in it. The owner's own lines stay as they were.
# Also switch WAN > DDNS away from "Custom" in the web UI. DYN53_JFFS (/jffs) relocates it.
# Does nothing while opkg upgrades the Entware package (PKG_UPGRADE=1).

set -u
# An opkg upgrade (PKG_UPGRADE=1) replaces the package, not the add-on: an older package's
# prerm that calls this on upgrade must not unhook the DDNS.
if [ "${PKG_UPGRADE:-0}" = 1 ]; then
	echo "dyn53 uninstall: opkg upgrade in progress (PKG_UPGRADE=1): nothing removed"
	exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$here/install.state" ]; then
	addon=$here
else
	addon=${DYN53_JFFS:-/jffs}/addons/dyn53.d
fi
jffs=$(cd "$addon/../.." 2>/dev/null && pwd) || {
	echo "dyn53 uninstall: dyn53 is not installed ($addon is missing)" >&2
	exit 2
}
state=$addon/install.state
tag='# dyn53'

state_get() { sed -n "s/^$1=//p" "$state" 2>/dev/null | head -n 1; }
say() { echo "dyn53 uninstall: $*"; }

# Takes the tagged line out of /jffs/scripts/$1 and undoes what install did to that file.
unhook() {
	name=$1
	file=$jffs/scripts/$name
	[ -f "$file" ] || return 0
	grep -q "[[:space:]]$tag\$" "$file" || return 0
	tmp=$file.dyn53-tmp
	if ! { sed "/[[:space:]]$tag\$/d" "$file" >"$tmp" && cat "$tmp" >"$file"; }; then
		echo "dyn53 uninstall: cannot update $file" >&2
		return 1
	fi
	rm -f "$tmp"
	if [ "$(state_get "${name}_noeol")" = 1 ]; then
		# It was a lone "#!..." line without a final newline: drop the one install added.
		printf '%s' "$(cat "$file")" >"$tmp" && cat "$tmp" >"$file" && rm -f "$tmp"
	fi
	[ "$(state_get "${name}_chmod")" = 1 ] && chmod a-x "$file"
	if [ "$(state_get "$name")" = created ] && [ "$(cat "$file")" = '#!/bin/sh' ]; then
		rm -f "$file"
		say "removed $file"
	else
		say "removed the dyn53 line from $file"
	fi
}

[ -f "$addon/services-start" ] && sh "$addon/services-start" unmount
ok=0
unhook ddns-start || ok=1
unhook services-start || ok=1
unhook service-event || ok=1
unhook wan-event || ok=1
[ "$ok" = 0 ] || exit 1

created_scripts=$(state_get created_scripts_dir)
created_addons=$(state_get created_addons_dir)
settings=$jffs/addons/custom_settings.txt
if [ -f "$settings" ] && grep -q '^dyn53_' "$settings"; then
	sed -i '/^dyn53_/d' "$settings"
fi
rm -rf "$addon"
say "removed $addon"
[ "$created_scripts" = 1 ] && rmdir "$jffs/scripts" 2>/dev/null
[ "$created_addons" = 1 ] && rmdir "$jffs/addons" 2>/dev/null
say "done. In the web UI, set WAN > DDNS back to another server or off."
exit 0

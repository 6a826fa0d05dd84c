#!/bin/sh
# Installs dyn53 on Asuswrt-Merlin as the custom DDNS updater.
#   Release tarball: tar -xzf dyn53-merlin-VERSION-ARCH.tar.gz
#                    sh dyn53-merlin-VERSION-ARCH/install.sh [--wan-event]
#   Entware:         opkg install dyn53 && sh /opt/share/dyn53/merlin/install.sh [--wan-event]
# Files go to /jffs/addons/dyn53.d. /jffs/scripts/ddns-start, services-start and
# service-event (and with --wan-event, for dual-WAN routers, /jffs/scripts/wan-event) get one
# line tagged "# dyn53"; the owner's other lines stay. Where the firmware has addon pages
# (384.15+), the web page WAN > dyn53 is mounted now and again at every boot. /jffs/addons/dyn53.d/uninstall removes exactly what this script added.
# Running it again upgrades the scripts (and binary) and keeps the config.
# The environment can relocate the router's paths, as the tests do:
# DYN53_JFFS (/jffs), DYN53_OPT (/opt), DYN53_NVRAM (nvram), and for the page those that
# services-start names.

set -u
src=$(cd "$(dirname "$0")" && pwd)
jffs=${DYN53_JFFS:-/jffs}
opt=${DYN53_OPT:-/opt}
nvram=${DYN53_NVRAM:-nvram}
addon=$jffs/addons/dyn53.d
state=$addon/install.state
tag='# dyn53'

die() {
	echo "dyn53 install: $*" >&2
	exit 2
}
say() { echo "dyn53 install: $*"; }

wan_event=0
for arg in "$@"; do
	case $arg in
	--wan-event) wan_event=1 ;;
	-h | --help)
		sed -n '2,14s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) die "unknown option $arg (try --help)" ;;
	esac
done

# Checks first, so that a refusal changes nothing.
[ "$("$nvram" get jffs2_scripts 2>/dev/null)" = 1 ] ||
	die "JFFS custom scripts are off. Turn on Administration > System > Enable JFFS custom scripts and configs, Apply, then run this again."
[ -d "$jffs" ] || die "$jffs is not mounted"
for f in ddns-start wan-event services-start service-event dyn53.asp uninstall.sh dyn53.conf.template; do
	[ -f "$src/$f" ] || die "$src/$f is missing (incomplete download?)"
done
for f in ddns-start wan-event services-start service-event; do
	[ ! -e "$jffs/scripts/$f" ] || [ -f "$jffs/scripts/$f" ] || die "$jffs/scripts/$f is not a regular file"
done
if [ -f "$src/dyn53" ]; then
	mode=tarball
elif [ -x "$opt/bin/dyn53" ]; then
	mode=entware
else
	die "no dyn53 binary next to install.sh nor in $opt/bin: unpack the release tarball or install the Entware package"
fi

# install.state records what existed before the first install, for uninstall.
state_get() { sed -n "s/^$1=//p" "$state" 2>/dev/null | head -n 1; }
state_init() { [ -n "$(state_get "$1")" ] || echo "$1=$2" >>"$state"; }
state_set() {
	{
		grep -v "^$1=" "$state"
		echo "$1=$2"
	} >"$state.new" && mv -f "$state.new" "$state"
}

# Copies $1 to $2 with mode $3, replacing $2 in one step (a running copy keeps working).
put() {
	cp "$1" "$2.new" && chmod "$3" "$2.new" && mv -f "$2.new" "$2" && return 0
	die "cannot write $2"
}

if [ ! -f "$state" ]; then
	first_addons=0 first_scripts=0
	[ -d "$jffs/addons" ] || first_addons=1
	[ -d "$jffs/scripts" ] || first_scripts=1
	mkdir -p "$addon" || die "cannot create $addon"
	state_init created_addons_dir "$first_addons"
	state_init created_scripts_dir "$first_scripts"
fi

mkdir -p "$jffs/scripts" || die "cannot create $jffs/scripts"
umask 022
put "$src/ddns-start" "$addon/ddns-start" 755
put "$src/wan-event" "$addon/wan-event" 755
put "$src/services-start" "$addon/services-start" 755
put "$src/service-event" "$addon/service-event" 755
put "$src/dyn53.asp" "$addon/dyn53.asp" 644
put "$src/uninstall.sh" "$addon/uninstall" 755
if [ "$mode" = tarball ]; then
	put "$src/dyn53" "$addon/dyn53" 755
else
	# The Entware binary in /opt/bin is used; a copy from an earlier tarball install would win.
	rm -f "$addon/dyn53"
fi

conf=$addon/dyn53.conf
if [ ! -f "$conf" ] && [ "$mode" = entware ] && [ -f "$opt/etc/dyn53.conf" ]; then
	conf=$opt/etc/dyn53.conf
elif [ ! -f "$conf" ]; then
	(umask 077 && cp "$src/dyn53.conf.template" "$conf") || die "cannot write $conf"
	say "created $conf (mode 0600) from the template"
fi
chmod 600 "$conf"

# Adds "sh <addon>/<name> "$@" # dyn53" to /jffs/scripts/<name>, right after the #! line so
# that an owner's early exit cannot skip it. Remembers what uninstall has to undo.
hook() {
	name=$1
	file=$jffs/scripts/$name
	line="sh \"$addon/$name\" \"\$@\" $tag"
	if [ ! -e "$file" ]; then
		printf '#!/bin/sh\n%s\n' "$line" >"$file" || die "cannot write $file"
		chmod 755 "$file"
		state_init "$name" created
		say "created $file"
		return
	fi
	if grep -q "[[:space:]]$tag\$" "$file"; then
		say "$file already calls dyn53"
		return
	fi
	grep -q ddns_custom_updated "$file" &&
		say "warning: $file already reports to the firmware itself (another DDNS script?)"
	state_init "$name" hooked
	tmp=$file.dyn53-tmp
	if head -n 1 "$file" | grep -q '^#!'; then
		noeol=0
		{
			IFS= read -r first || noeol=1
			printf '%s\n%s\n' "$first" "$line"
			cat
		} <"$file" >"$tmp" || die "cannot write $tmp"
		state_init "${name}_noeol" "$noeol"
	else
		say "warning: $file does not start with #!/bin/sh, the firmware may not run it"
		{
			printf '%s\n' "$line"
			cat "$file"
		} >"$tmp" || die "cannot write $tmp"
	fi
	# Rewrite in place: keeps the owner's file mode.
	cat "$tmp" >"$file" || die "cannot update $file"
	rm -f "$tmp"
	if [ ! -x "$file" ]; then
		chmod a+x "$file" && state_init "${name}_chmod" 1
	fi
	say "added the dyn53 line to $file"
}

hook ddns-start
[ "$wan_event" = 1 ] && hook wan-event
hook services-start
hook service-event
state_set mode "$mode"
page=
if sh "$addon/services-start" mount && [ -f "$addon/webui.page" ]; then
	page="  The page: $(cat "$addon/webui.page") in the web UI, WAN > dyn53: paste the block
  \`dyn53-backend host add\` printed, Apply, and see the first update there."
fi

cat <<MSG
dyn53 installed ($mode) in $addon.
Next:${page:+
$page
Or with a shell:}
  1. Put this router's url, secret and hostname into $conf
  2. In the web UI: WAN > DDNS > Enable the DDNS Client: Yes, Server: Custom, Apply.
  3. Test now: sh $jffs/scripts/ddns-start, then read System Log > General Log (tag dyn53).
Remove with: sh $addon/uninstall
MSG

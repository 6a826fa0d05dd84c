#!/usr/bin/env bash
# Builds every .ipk and Merlin tarball (.ci/build-ipk) and checks each one the way a router
# would see it: the outer layout ipkg-build writes, control fields and Installed-Size,
# conffiles, the files and modes an offline opkg install puts down, postinst/prerm run with
# IPKG_INSTROOT leaving that root untouched, a static binary for the package's arch, and a
# rebuild with the same SOURCE_DATE_EPOCH (and another umask) giving identical bytes.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TRIPLES=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf
	armv7-unknown-linux-musleabi 	mipsel-unknown-linux-musl mips-unknown-linux-musl)
OPENWRT_ARCHES=(mipsel_24kc mips_24kc arm_cortex-a7_neon-vfpv4 arm_cortex-a9_vfpv3-d16
	aarch64_cortex-a53 aarch64_generic x86_64)
ENTWARE_ARCHES=(mipsel-3.4 armv7-3.2 aarch64-3.10)

need_router_binaries "${TRIPLES[@]}" || exit 1
scratch
version=$(cargo_version)
release=$(pkg_release)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct)}

echo "build: .ci/build-ipk (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
"$REPO/.ci/build-ipk" >"$SCRATCH/build.log" 2>&1
rc=$?
sed 's/^/    /' "$SCRATCH/build.log"
ok "build-ipk succeeds" test "$rc" = 0

# `file` words that a binary for each arch must show (besides being static).
file_words() {
	case $1 in
	mipsel_24kc | mipsel-3.4) echo "ELF 32-bit LSB|MIPS32 rel2" ;;
	mips_24kc) echo "ELF 32-bit MSB|MIPS32 rel2" ;;
	arm_* | armv7-3.2) echo "ELF 32-bit LSB|ARM, EABI5" ;;
	aarch64*) echo "ELF 64-bit LSB|ARM aarch64" ;;
	x86_64) echo "ELF 64-bit LSB|x86-64" ;;
	esac
}

is_static_for() {
	local desc words w
	desc=$(file -b "$2")
	words=$(file_words "$1")
	echo "    file: $desc" | cut -c1-150
	IFS='|' read -ra w <<<"$words"
	[[ $desc == *"${w[0]}"* && $desc == *"${w[1]}"* ]] || return 1
	[[ $desc == *"statically linked"* || $desc == *"static-pie linked"* ]]
}

# The hf ABI (VFP registers) the arm_*_vfp* OpenWrt arches are built for.
is_hardfloat() { readelf -A "$1" | grep -q 'Tag_ABI_VFP_args: VFP registers'; }

field() { sed -n "s/^$1: //p" "$2"; }

expected_files() {
	if [ "$1" = openwrt ]; then
		cat <<LIST
./etc/config/dyn53 f 600 openwrt/files/dyn53.config
./etc/hotplug.d/iface/95-dyn53 f 644 openwrt/files/dyn53.hotplug
./etc/init.d/dyn53 f 755 openwrt/files/dyn53.init
./lib/upgrade/keep.d/dyn53 f 644 openwrt/files/dyn53.keep
./usr/bin/dyn53 f 755 -
./usr/libexec/dyn53-lan.sh f 644 openwrt/files/dyn53-lan.sh
./usr/libexec/dyn53-run f 755 openwrt/files/dyn53-run
LIST
	else
		cat <<LIST
./opt/bin/dyn53 f 755 -
./opt/etc/dyn53.conf f 600 merlin/dyn53.conf.template
./opt/share/dyn53/merlin/ddns-start f 755 merlin/ddns-start
./opt/share/dyn53/merlin/dyn53.asp f 644 merlin/dyn53.asp
./opt/share/dyn53/merlin/dyn53.conf.template f 644 merlin/dyn53.conf.template
./opt/share/dyn53/merlin/install.sh f 755 merlin/install.sh
./opt/share/dyn53/merlin/service-event f 755 merlin/service-event
./opt/share/dyn53/merlin/services-start f 755 merlin/services-start
./opt/share/dyn53/merlin/uninstall.sh f 755 merlin/uninstall.sh
./opt/share/dyn53/merlin/wan-event f 755 merlin/wan-event
LIST
	fi
}

# Files below ROOT as "path type mode", directories left out.
files_of() { (cd "$1" && find . -mindepth 1 ! -type d -printf '%p %y %m\n' | LC_ALL=C sort); }

check_ipk() {
	local arch=$1 kind=$2 ipk dir root info conffile expect before after size n
	ipk=$(ipk_file "$arch")
	echo "package: $(basename "$ipk") ($kind)"
	ok "exists" test -f "$ipk" || return
	dir=$SCRATCH/$arch
	mkdir -p "$dir/outer" "$dir/control" "$dir/root"
	ok "outer: gzipped tar of ./debian-binary ./data.tar.gz ./control.tar.gz, in that order" \
		test "$(tar -tzf "$ipk" | tr '\n' ' ')" = "./debian-binary ./data.tar.gz ./control.tar.gz "
	tar -xzf "$ipk" -C "$dir/outer"
	ok "debian-binary is 2.0" test "$(cat "$dir/outer/debian-binary")" = "2.0"
	tar -xzf "$dir/outer/control.tar.gz" -C "$dir/control"
	local scripts="./postinst 755 ./prerm 755 "
	# OpenWrt's default_postinst runs postinst-pkg, the package's own part (the hint).
	[ "$kind" = openwrt ] && scripts="./postinst 755 ./postinst-pkg 755 ./prerm 755 "
	ok "control.tar.gz: control conffiles ${scripts//[0-9.\/]/}" \
		test "$(cd "$dir/control" && find . -type f -printf '%p %m\n' | LC_ALL=C sort | tr '\n' ' ')" = \
		"./conffiles 644 ./control 644 $scripts"
	local c=$dir/control/control
	ok "Package: dyn53" test "$(field Package "$c")" = dyn53
	ok "Version: $version-$release" test "$(field Version "$c")" = "$version-$release"
	ok "Architecture: $arch" test "$(field Architecture "$c")" = "$arch"
	ok "Maintainer, License: MIT, Section: net, Description" \
		test -n "$(field Maintainer "$c")" -a "$(field License "$c")" = MIT -a "$(field Section "$c")" = net \
		-a -n "$(field Description "$c")"
	size=$(gzip -dc "$dir/outer/data.tar.gz" | wc -c)
	ok "Installed-Size $(field Installed-Size "$c") = bytes of the data tar ($size)" \
		test "$(field Installed-Size "$c")" = "$size"
	ok "data.tar.gz: owner 0/0, mtime SOURCE_DATE_EPOCH" \
		test -z "$(tar --full-time -tvzf "$dir/outer/data.tar.gz" | awk '$2 != "0/0"')" -a \
		"$(tar -tvzf "$dir/outer/data.tar.gz" --full-time | awk '{print $4" "$5}' | sort -u)" = \
		"$(date -u -d "@$SOURCE_DATE_EPOCH" '+%Y-%m-%d %H:%M:%S')"

	root=$dir/root
	info=$(TZ=UTC opkg_unpack "$ipk" "$root") || { fail "offline install"; return; }
	expect=$(expected_files "$kind")
	ok "offline install puts down exactly the expected files and modes" \
		test "$(files_of "$root" | grep -v '/lib/opkg/info/')" = "$(cut -d' ' -f1-3 <<<"$expect")"
	ok "directories are 0755" test -z "$(cd "$root" && find . -type d ! -perm 755)"
	n=0
	while read -r path _ _ src; do
		[ "$src" = - ] && continue
		cmp -s "$root/$path" "$REPO/$src" || { echo "    differs from $src: $path"; n=$((n + 1)); }
	done <<<"$expect"
	ok "scripts and config are the repository's files" test "$n" = 0
	conffile=/etc/config/dyn53
	[ "$kind" = entware ] && conffile=/opt/etc/dyn53.conf
	ok "conffiles lists $conffile, which the package holds" \
		test "$(cat "$dir/control/conffiles")" = "$conffile" -a -f "$root$conffile"
	ok "conffile $conffile is 0600 (it holds the secret)" test "$(stat -c %a "$root$conffile")" = 600
	local bin=$root/usr/bin/dyn53
	[ "$kind" = entware ] && bin=$root/opt/bin/dyn53
	ok "binary is static for $arch" is_static_for "$arch" "$bin"
	case $arch in
	arm_*) ok "binary uses the hard-float ABI of $arch" is_hardfloat "$bin" ;;
	# Entware ARM is soft-float, and Northstar SoCs (RT-AC68U) have no VFP unit.
	armv7-*) not_ok "binary uses the soft-float ABI of $arch (no VFP needed)" is_hardfloat "$bin" ;;
	esac

	# As OpenWrt's image build and opkg --offline-root do: postinst with IPKG_INSTROOT set,
	# with BusyBox ash and with bash. Nothing outside the opkg records may change.
	before=$(tree "$root")
	ok "postinst (busybox sh, IPKG_INSTROOT) exits 0" env IPKG_INSTROOT="$root" "$BUSYBOX" sh "$info/dyn53.postinst" configure
	ok "postinst (bash, IPKG_INSTROOT) exits 0" env IPKG_INSTROOT="$root" bash "$info/dyn53.postinst" configure
	ok "prerm (busybox sh, IPKG_INSTROOT) exits 0" env IPKG_INSTROOT="$root" "$BUSYBOX" sh "$info/dyn53.prerm" remove
	after=$(tree "$root")
	ok "postinst and prerm leave the offline root untouched" test "$before" = "$after"
}

for a in "${OPENWRT_ARCHES[@]}"; do check_ipk "$a" openwrt; done
for a in "${ENTWARE_ARCHES[@]}"; do check_ipk "$a" entware; done

echo "Merlin tarballs"
for cpu in mipsel armv7 aarch64; do
	t=$DIST/dyn53-merlin-$version-$cpu.tar.gz
	name=dyn53-merlin-$version-$cpu
	ok "$(basename "$t"): one directory with the binary, install/uninstall, hook scripts and page" \
		test "$(tar -tvzf "$t" | awk '{print $1" "$2" "$6}' | tr '\n' ' ')" = \
		"drwxr-xr-x 0/0 $name/ -rwxr-xr-x 0/0 $name/ddns-start -rwxr-xr-x 0/0 $name/dyn53 -rw-r--r-- 0/0 $name/dyn53.asp -rw-r--r-- 0/0 $name/dyn53.conf.template -rwxr-xr-x 0/0 $name/install.sh -rwxr-xr-x 0/0 $name/service-event -rwxr-xr-x 0/0 $name/services-start -rwxr-xr-x 0/0 $name/uninstall.sh -rwxr-xr-x 0/0 $name/wan-event "
done

echo "reproducibility"
again=$SCRATCH/again
mkdir -p "$again"
for t in "${TRIPLES[@]}"; do ln -s "$DIST/$t" "$again/$t"; done
(umask 077 && DIST=$again "$REPO/.ci/build-ipk" >/dev/null)
n=0 m=0
for f in "$DIST"/dyn53_"$version"-"$release"_*.ipk "$DIST"/dyn53-merlin-"$version"-*.tar.gz \
	"$DIST"/luci-app-dyn53_"$version"-"$release"_all.ipk; do
	m=$((m + 1))
	cmp -s "$f" "$again/$(basename "$f")" || { echo "    differs: $(basename "$f")"; n=$((n + 1)); }
done
ok "a rebuild (same SOURCE_DATE_EPOCH, umask 077) gives the same bytes for all $m artefacts" test "$n" = 0 -a "$m" = 14
finish

#!/usr/bin/env bash
# Shared by .ci/build-ipk, .ci/build-apk and .ci/build-feed (sourced, bash): the OpenWrt
# arches and the binary each carries, the package version and fields from Cargo.toml and
# openwrt/Makefile, and openwrt_stage and luci_stage, the ONE place that lays out each
# OpenWrt package's files (the .ipk and the .apk carry the same tree; the feed Makefile
# installs dyn53's the same way; luci_stage follows what luci.mk installs).
# Expects to run from the repository root with DIST set.
# shellcheck disable=SC2034 # the variables are for the scripts that source this

# OpenWrt arch -> Rust target of the binary it carries.
declare -A OPENWRT=(
	[mipsel_24kc]=mipsel-unknown-linux-musl
	[mips_24kc]=mips-unknown-linux-musl
	[arm_cortex-a7_neon-vfpv4]=armv7-unknown-linux-musleabihf
	[arm_cortex-a9_vfpv3-d16]=armv7-unknown-linux-musleabihf
	[aarch64_cortex-a53]=aarch64-unknown-linux-musl
	[aarch64_generic]=aarch64-unknown-linux-musl
	[x86_64]=x86_64-unknown-linux-musl
)

cargo_field() { sed -n '/^\[package\]/,/^\[/s/^'"$1"' *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1; }
version=$(cargo_field version)
release=$(sed -n 's/^PKG_RELEASE:=//p' openwrt/Makefile)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "Cargo.toml version '$version' is not x.y.z" >&2; exit 1; }
[[ $release =~ ^[0-9]+$ ]] || { echo "PKG_RELEASE '$release' in openwrt/Makefile is not an integer" >&2; exit 1; }
pkgver=$version-$release # opkg's version; apk's is $version-r$release
license=$(cargo_field license)
summary=$(cargo_field description)
homepage=$(cargo_field repository)
maintainer="dyn53 project <$homepage>"
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH

# Deterministic tar: fixed order, owner and time (as ipkg-build with SOURCE_DATE_EPOCH).
dtar() { tar --format=gnu --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" "$@"; }

binary_of() {
	local bin=$DIST/$1/dyn53
	[ -f "$bin" ] || { echo "$bin is missing: run make router first" >&2; return 1; }
	echo "$bin"
}

# openwrt_stage DIR ARCH: the OpenWrt package's files for ARCH under DIR, with their modes.
openwrt_stage() {
	local d=$1 bin
	bin=$(binary_of "${OPENWRT[$2]}") || return 1
	install -D -m 755 "$bin" "$d/usr/bin/dyn53"
	install -D -m 755 openwrt/files/dyn53-run "$d/usr/libexec/dyn53-run"
	install -D -m 644 openwrt/files/dyn53-lan.sh "$d/usr/libexec/dyn53-lan.sh"
	install -D -m 600 openwrt/files/dyn53.config "$d/etc/config/dyn53"
	install -D -m 755 openwrt/files/dyn53.init "$d/etc/init.d/dyn53"
	install -D -m 644 openwrt/files/dyn53.hotplug "$d/etc/hotplug.d/iface/95-dyn53"
	install -D -m 644 openwrt/files/dyn53.keep "$d/lib/upgrade/keep.d/dyn53"
	find "$d" -type d -exec chmod 755 {} +
}

# The OpenWrt package's conffiles (kept on upgrade), one a line.
OPENWRT_CONFFILES=/etc/config/dyn53

# luci-app-dyn53, the LuCI page (noarch: JavaScript and JSON only): what it depends on, its
# one-line summary, and its own postinst part (LuCI's caches, rpcd's ACLs).
LUCI_DEPENDS="dyn53 luci-base"
LUCI_SUMMARY="LuCI page for dyn53: settings, secret, records, status and Update now"
LUCI_POSTINST_PKG=openwrt/luci-app-dyn53/postinst-pkg

# luci_stage DIR: luci-app-dyn53's files under DIR as luci.mk installs them (htdocs/ under
# /www, root/ at /), every file 644.
luci_stage() {
	local d=$1 src=openwrt/luci-app-dyn53
	install -d -m 755 "$d/www"
	cp -R "$src/htdocs/." "$d/www/"
	cp -R "$src/root/." "$d/"
	find "$d" -type f -exec chmod 644 {} +
	find "$d" -type d -exec chmod 755 {} +
}

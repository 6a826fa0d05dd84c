#!/usr/bin/env bash
# OpenWrt and Merlin packaging sources, without a router: the feed Makefile follows the
# rust-package.mk conventions (PKG_VERSION x.y.z equal to Cargo.toml, integer PKG_RELEASE,
# every files/ entry installed, conffiles), the hotplug and init agree on the start order,
# and every router script parses under BusyBox ash and is shellcheck-clean as POSIX sh.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mk=$REPO/openwrt/Makefile
var() { sed -n "s/^$1:=//p" "$mk"; }
version=$(cargo_version)

echo "feed Makefile (openwrt/Makefile)"
ok "PKG_NAME dyn53" test "$(var PKG_NAME)" = dyn53
is_xyz() { [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; }
is_int() { [[ $1 =~ ^[0-9]+$ ]]; }
ok "PKG_VERSION $(var PKG_VERSION) is x.y.z" is_xyz "$(var PKG_VERSION)"
ok "PKG_VERSION equals the Cargo.toml version ($version)" test "$(var PKG_VERSION)" = "$version"
ok "PKG_RELEASE is a plain integer" is_int "$(var PKG_RELEASE)"
ok "PKG_BUILD_DEPENDS rust/host" test "$(var PKG_BUILD_DEPENDS)" = rust/host
# shellcheck disable=SC2016 # make syntax, not shell
ok "rust-package.mk included after package.mk, from the packages feed by its place" \
	test "$(grep -n '^include' "$mk" | grep -E 'package.mk' | cut -d: -f2- | tr '\n' '|')" = \
	'include $(INCLUDE_DIR)/package.mk|include $(TOPDIR)/feeds/packages/lang/rust/rust-package.mk|'
# The SDK's layout with this Makefile as a feed of its own (feeds.conf: src-link dyn53 ...):
# feeds/dyn53/dyn53 is this directory, package/feeds/dyn53/dyn53 links to it, and make runs
# in the package directory. rules.mk, package.mk and rust-package.mk are stand-ins that
# only show which files make reads (no SDK can be downloaded here); a path that does not
# resolve in this layout fails as it does in the SDK ("No such file or directory").
sdk=$(mktemp -d)
mkdir -p "$sdk/include" "$sdk/feeds/dyn53" "$sdk/feeds/packages/lang/rust" "$sdk/package/feeds/dyn53"
ln -s "$REPO/openwrt" "$sdk/feeds/dyn53/dyn53"
ln -s ../../../feeds/dyn53/dyn53 "$sdk/package/feeds/dyn53/dyn53"
# shellcheck disable=SC2016 # make syntax, not shell
echo 'INCLUDE_DIR:=$(TOPDIR)/include' >"$sdk/rules.mk"
# shellcheck disable=SC2016 # make syntax, not shell
printf 'define BuildPackage
compile:
	@echo "compile $(1) with $(RUST_MK)"
endef
' >"$sdk/include/package.mk"
echo 'RUST_MK:=feeds/packages/lang/rust/rust-package.mk' >"$sdk/feeds/packages/lang/rust/rust-package.mk"
out=$(cd "$sdk/package/feeds/dyn53/dyn53" && make -s TOPDIR="$sdk" compile 2>&1)
ok "as a separate feed, make finds every include (got: $out)" \
	test "$out" = "compile dyn53 with feeds/packages/lang/rust/rust-package.mk"
rm -rf "$sdk"
# shellcheck disable=SC2016 # make syntax, not shell
ok "DEPENDS:=\$(RUST_ARCH_DEPENDS)" grep -q '^  DEPENDS:=$(RUST_ARCH_DEPENDS)$' "$mk"
ok "conffiles: /etc/config/dyn53" \
	test "$(sed -n '/^define Package\/dyn53\/conffiles/,/^endef/p' "$mk" | sed '1d;$d')" = /etc/config/dyn53
n=0
for f in "$REPO"/openwrt/files/*; do
	grep -q "\./files/$(basename "$f") " "$mk" || { echo "    not installed: files/$(basename "$f")"; n=$((n + 1)); }
done
ok "Package/dyn53/install installs every file in openwrt/files" test "$n" = 0
n=0
for p in /usr/bin/dyn53 /usr/libexec/dyn53-run /usr/libexec/dyn53-lan.sh /etc/config/dyn53 /etc/init.d/dyn53 \
	/etc/hotplug.d/iface/95-dyn53 /lib/upgrade/keep.d/dyn53; do
	grep -qF "\$(1)$p" "$mk" || { echo "    not installed: $p"; n=$((n + 1)); }
done
ok "the feed installs the files where build-ipk puts them" test "$n" = 0

echo "init and hotplug"
init=$REPO/openwrt/files/dyn53.init
ok "init: #!/bin/sh /etc/rc.common, USE_PROCD=1, START=95" \
	test "$(head -n1 "$init")" = '#!/bin/sh /etc/rc.common' -a -n "$(grep -x 'USE_PROCD=1' "$init")" \
	-a -n "$(grep -x 'START=95' "$init")"
ok "init: check_interval default 600 s, periodic run through dyn53-run" \
	grep -q 'config_get dyn53_every global check_interval 600' "$init"
ok "init: reload on uci commit dyn53" grep -q 'procd_add_reload_trigger dyn53' "$init"
ok "UCI template: check_interval '600'" grep -q "option check_interval '600'" "$REPO/openwrt/files/dyn53.config"

echo "router scripts"
router_scripts=(openwrt/files/dyn53.hotplug openwrt/files/dyn53-run openwrt/files/dyn53-lan.sh openwrt/files/dyn53.init
	openwrt/ipk/postinst openwrt/ipk/postinst-pkg openwrt/ipk/prerm
	tests/router/base-files/lib/functions.sh tests/router/base-files/etc/rc.common merlin/ddns-start merlin/wan-event merlin/install.sh
	merlin/uninstall.sh merlin/entware/postinst merlin/entware/prerm)
n=0
for s in "${router_scripts[@]}"; do
	"$BUSYBOX" sh -n "$REPO/$s" || { echo "    busybox sh -n fails: $s"; n=$((n + 1)); }
done
ok "all ${#router_scripts[@]} router scripts parse under BusyBox ash" test "$n" = 0
cd "$REPO" || exit 1
ok "shellcheck -s sh (POSIX) is clean for all of them" shellcheck -s sh "${router_scripts[@]}"
finish

# shellcheck shell=sh
# Test stand-in for OpenWrt base-files' /lib/functions.sh, reduced to what package scripts
# call, with base-files' rules (package/base-files/files/lib/functions.sh): the file list
# is /lib/apk/packages/<pkg>.list (apk) or /usr/lib/opkg/info/<pkg>.list (opkg); opkg's
# postinst-pkg runs first; each /etc/init.d/ script listed is enabled (postinst) or
# disabled (prerm) through rc.common, and on a live router started or stopped, the enable
# and disable skipped when PKG_UPGRADE=1. Commands run on a live router are recorded in
# $DYN53_TEST_LOG instead of run, since nothing here may touch the host.
# The real file is used by the cross-check against real apk-tools and opkg (not in the repo).

dyn53_test_filelist() {
	filelist="${root}/usr/lib/opkg/info/${pkgname}.list"
	[ -f "$root/lib/apk/packages/${pkgname}.list" ] && filelist="$root/lib/apk/packages/${pkgname}.list"
}

dyn53_test_service() {
	grep -s "^/etc/init.d/" "$filelist" | while IFS= read -r i; do
		if [ -n "$root" ]; then
			/bin/sh "$root/etc/rc.common" "$root$i" "$1"
		else
			[ "$PKG_UPGRADE" = "1" ] || echo "$i $1" >>"${DYN53_TEST_LOG:-/dev/null}"
			echo "$i $2" >>"${DYN53_TEST_LOG:-/dev/null}"
		fi
	done
}

add_group_and_user() { :; }

default_postinst() {
	root="${IPKG_INSTROOT}"
	[ -z "$pkgname" ] && pkgname="$(basename "${1%.*}")"
	dyn53_test_filelist
	ret=0
	if [ -f "$root/usr/lib/opkg/info/${pkgname}.postinst-pkg" ]; then
		# shellcheck disable=SC1090
		(. "$root/usr/lib/opkg/info/${pkgname}.postinst-pkg")
		ret=$?
	fi
	dyn53_test_service enable start
	return $ret
}

default_prerm() {
	root="${IPKG_INSTROOT}"
	[ -z "$pkgname" ] && pkgname="$(basename "${1%.*}")"
	dyn53_test_filelist
	dyn53_test_service disable stop
	return 0
}

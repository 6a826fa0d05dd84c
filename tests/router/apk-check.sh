#!/usr/bin/env bash
# OpenWrt 25.12+ packages and the signed feeds (make apk, make feed), checked by a reader
# written apart from the writer (apk_read.py, apk_check.py: structure, hashes, signatures,
# info fields, scripts, OpenWrt's file lists, the opkg index and its usign signature), then
# the packages' scripts under BusyBox ash as OpenWrt runs them: in an offline root
# (IPKG_INSTROOT, image builds) without and with base-files, and on a live root (a chroot
# with BusyBox as /bin/sh) for first install, upgrade and removal, .apk and .ipk alike.
# Throwaway keys are made here; none is ever committed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TRIPLES=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf
	armv7-unknown-linux-musleabi mipsel-unknown-linux-musl mips-unknown-linux-musl)
need_router_binaries "${TRIPLES[@]}" || exit 1
scratch
version=$(cargo_version)
release=$(pkg_release)
apkver=$version-r$release
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct)}
# A private dist: the router binaries linked in, the packages written here.
D=$SCRATCH/dist
mkdir -p "$D"
for t in "${TRIPLES[@]}"; do ln -s "$DIST/$t" "$D/$t"; done

echo "make apk (unsigned) and make feed (throwaway keys)"
DIST=$D "$REPO/.ci/build-apk" >"$SCRATCH/apk.log" 2>&1
ok "build-apk succeeds" test $? = 0
sed 's/^/    /' "$SCRATCH/apk.log"
(umask 077 && DIST=$D APK_DIR=$SCRATCH/again "$REPO/.ci/build-apk" >/dev/null 2>&1)
n=0
for f in "$D"/apk/*/*.apk; do
	cmp -s "$f" "$SCRATCH/again/${f#"$D"/apk/}" || n=$((n + 1))
done
ok "unsigned packages are reproducible (same SOURCE_DATE_EPOCH, umask 077): 7 dyn53, 7 luci-app-dyn53" \
	test "$n" = 0 -a "$(find "$D/apk" -name 'dyn53-*.apk' | wc -l)" = 7 \
	-a "$(find "$D/apk" -name 'luci-app-dyn53-*.apk' | wc -l)" = 7
"$REPO/.ci/feedtool" keygen "$SCRATCH/keys" >/dev/null
export DYN53_APK_KEY=$SCRATCH/keys/apk.pem DYN53_USIGN_KEY=$SCRATCH/keys/usign.sec
DIST=$D "$REPO/.ci/build-feed" >"$SCRATCH/feed.log" 2>&1
ok "build-feed succeeds" test $? = 0 || sed 's/^/    /' "$SCRATCH/feed.log"
grep -E '^(INDEX|FEED|KEYS)' "$SCRATCH/feed.log" | sed 's/^/    /'
DIST=$D DYN53_APK_KEY='' "$REPO/.ci/build-feed" >"$SCRATCH/nokey.log" 2>&1
ok "build-feed without keys refuses (exit 2) and says how to make them" \
	test $? = 2 -a -n "$(grep 'feedtool keygen' "$SCRATCH/nokey.log")"
echo "reader (tests/router/apk_read.py, independent of .ci/feedtool)"
python3 "$ROUTER_TESTS/apk_check.py" "$REPO" "$version" "$release" "$SOURCE_DATE_EPOCH" \
	"$DIST" "$D/apk" "$D/feed" | sed 's/^/  /'
ok "apk_check.py: every package, index and signature" test "${PIPESTATUS[0]}" = 0

# install_apk APK ROOT: puts the package's files into ROOT as apk does before its scripts
# run, and the scripts next to them in ROOT/.scripts.
install_apk() {
	python3 "$ROUTER_TESTS/apk_read.py" extract "$1" "$2" || return 1
	mkdir -p "$2/.scripts"
	python3 - "$1" "$2/.scripts" <<'PY'
import json, os, subprocess, sys
out = subprocess.run([sys.executable, os.path.join(os.environ["ROUTER_TESTS"], "apk_read.py"),
                      "package", sys.argv[1]], capture_output=True, check=True, text=True)
for name, body in json.loads(out.stdout)["scripts"].items():
    with open(os.path.join(sys.argv[2], name), "w") as f:
        f.write(body)
PY
}
export ROUTER_TESTS

apk=$D/feed/apk/x86_64/dyn53-$apkver.apk
echo "scripts in an offline root (IPKG_INSTROOT), BusyBox ash"
R=$SCRATCH/offline
mkdir -p "$R"
install_apk "$apk" "$R" || fail "extract the package"
before=$(tree "$R")
ok "post-install without base-files exits 0" env IPKG_INSTROOT="$R" "$BUSYBOX" sh "$R/.scripts/post-install"
ok "and changes nothing" test "$before" = "$(tree "$R")"
cp -r "$ROUTER_TESTS/base-files/." "$R/"
out=$(env -i PATH="$PATH" IPKG_INSTROOT="$R" "$BUSYBOX" sh "$R/.scripts/post-install" 2>&1)
ok "post-install with base-files exits 0, prints nothing (no hint in an image build)" test $? = 0 -a -z "$out"
ok "the service is enabled: /etc/rc.d/S95dyn53 -> ../init.d/dyn53 (from dyn53.list)" \
	test "$(readlink "$R/etc/rc.d/S95dyn53")" = ../init.d/dyn53
out=$(env -i PATH="$PATH" IPKG_INSTROOT="$R" "$BUSYBOX" sh "$R/.scripts/pre-deinstall" 2>&1)
ok "pre-deinstall exits 0 and disables it (the link is gone)" test $? = 0 -a ! -e "$R/etc/rc.d/S95dyn53"

# A live router: a chroot whose /bin/sh is BusyBox and whose base-files are the stand-in
# (it records start/stop/enable/disable instead of running them).
live_root() {
	local a
	mkdir -p "$1/bin" "$1/tmp"
	cp "$BUSYBOX" "$1/bin/busybox"
	for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -sf busybox "$1/bin/$a"; done
	cp -r "$ROUTER_TESTS/base-files/." "$1/"
	: >"$1/tmp/services"
}
# run_live ROOT [VAR=VALUE...] -- SCRIPT ARGS...: runs SCRIPT (a path inside ROOT) in the
# chroot under BusyBox ash, with only the given variables set.
run_live() {
	local root=$1 vars=()
	shift
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	chroot "$root" /bin/env -i PATH=/bin DYN53_TEST_LOG=/tmp/services "${vars[@]}" /bin/sh "$@" 2>&1
}
hint='set url, secret and records'
if [ "$(id -u)" != 0 ]; then
	fail "live-root script checks need root (chroot)"
else
	echo "scripts on a live root (chroot, BusyBox ash): apk"
	R=$SCRATCH/live-apk
	{ install_apk "$apk" "$R" && live_root "$R"; } || fail "live root"
	out=$(run_live "$R" -- /.scripts/post-install)
	ok "post-install (first install): prints the hint" grep -q "$hint" <<<"$out"
	ok "enables and starts the service" test "$(cat "$R/tmp/services")" = "/etc/init.d/dyn53 enable
/etc/init.d/dyn53 start"
	: >"$R/tmp/services"
	out=$(run_live "$R" -- /.scripts/post-upgrade)
	ok "post-upgrade: no hint (the config is kept)" test -z "$out"
	ok "restarts the service without enabling it again" test "$(cat "$R/tmp/services")" = "/etc/init.d/dyn53 start"
	: >"$R/tmp/services"
	run_live "$R" -- /.scripts/pre-deinstall >/dev/null
	ok "pre-deinstall: disables and stops it" test "$(cat "$R/tmp/services")" = "/etc/init.d/dyn53 disable
/etc/init.d/dyn53 stop"

	echo "scripts on a live root (chroot, BusyBox ash): ipk (opkg sets PKG_UPGRADE)"
	R=$SCRATCH/live-ipk
	mkdir -p "$R"
	{ DIST=$D opkg_unpack "$(DIST=$D ipk_file x86_64)" "$R" >/dev/null && live_root "$R"; } || fail "live root"
	out=$(run_live "$R" PKG_UPGRADE=0 -- /usr/lib/opkg/info/dyn53.postinst configure)
	ok "postinst configure (first install): prints the hint (postinst-pkg)" grep -q "$hint" <<<"$out"
	out=$(run_live "$R" PKG_UPGRADE=1 -- /usr/lib/opkg/info/dyn53.postinst configure)
	ok "postinst configure on an upgrade (PKG_UPGRADE=1): no hint" test -z "$out"
	: >"$R/tmp/services"
	run_live "$R" PKG_UPGRADE=1 -- /usr/lib/opkg/info/dyn53.prerm upgrade 0.1.0-2 >/dev/null
	ok "prerm upgrade (PKG_UPGRADE=1): stops the service, keeps it enabled" \
		test "$(cat "$R/tmp/services")" = "/etc/init.d/dyn53 stop"
fi
finish

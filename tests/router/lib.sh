#!/usr/bin/env bash
# Shared helpers for the router test scripts (sourced, bash): checks with a running count,
# scratch directories, a BusyBox-only PATH like a router's, and tree listings for
# byte-for-byte comparisons.

ROUTER_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$ROUTER_TESTS/../.." && pwd)
# Where make router put the binaries and build-ipk puts the packages (DIST overrides).
export DIST=${DIST:-$REPO/dist}
BUSYBOX=$(command -v busybox) || { echo "busybox is not installed (make setup)" >&2; exit 1; }
rt_passed=0
rt_failed=0

# ok DESCRIPTION COMMAND...: runs the command, counts and prints the verdict.
ok() {
	local what=$1
	shift
	if "$@"; then
		rt_passed=$((rt_passed + 1))
		echo "  ok   $what"
	else
		rt_failed=$((rt_failed + 1))
		echo "  FAIL $what"
	fi
}

# not_ok DESCRIPTION COMMAND...: passes when the command fails.
not_ok() {
	local what=$1
	shift
	if "$@"; then
		rt_failed=$((rt_failed + 1))
		echo "  FAIL $what"
	else
		rt_passed=$((rt_passed + 1))
		echo "  ok   $what"
	fi
}

# fail DESCRIPTION: records a failure found outside ok/not_ok.
fail() {
	rt_failed=$((rt_failed + 1))
	echo "  FAIL $1"
}

# finish: prints the count; exit status 1 if anything failed.
finish() {
	echo "$(basename "$0"): $rt_passed passed, $rt_failed failed"
	[ "$rt_failed" -eq 0 ]
}

# scratch: a fresh directory removed when the script exits (unless KEEP_SCRATCH=1).
scratch() {
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/dyn53-router.XXXXXX")
	[ "${KEEP_SCRATCH:-0}" = 1 ] || trap 'rm -rf "$SCRATCH"' EXIT
	echo "  scratch: $SCRATCH"
}

# busybox_path DIR LOG: fills DIR with BusyBox applets (the only commands a router has) and
# a logger that appends "TAG.PRIO message" lines to LOG, since no syslogd runs here. Debian's
# static BusyBox ash runs its own applets before PATH, so the scripts get this logger through
# DYN53_LOGGER (bbsh sets it).
busybox_path() {
	local dir=$1 log=$2
	mkdir -p "$dir"
	"$BUSYBOX" --install -s "$dir"
	rm -f "$dir/logger"
	cat >"$dir/logger" <<SHIM
#!$BUSYBOX sh
# syslog stand-in for tests: records what the router scripts log.
tag=logger prio=user.notice
while getopts t:p:s opt; do
	case \$opt in t) tag=\$OPTARG ;; p) prio=\$OPTARG ;; esac
done
shift \$((OPTIND - 1))
echo "\$tag.\$prio \$*" >>"$log"
SHIM
	chmod 755 "$dir/logger"
	: >"$log"
}

# qemu_for TRIPLE: the qemu-user emulator that runs binaries of a Rust target triple.
qemu_for() {
	case $1 in
	x86_64-*) echo "" ;;
	aarch64-*) echo qemu-aarch64-static ;;
	armv7-*) echo qemu-arm-static ;;
	mipsel-*) echo qemu-mipsel-static ;;
	mips-*) echo qemu-mips-static ;;
	*) return 1 ;;
	esac
}

# emulated_bin WRAPPER BINARY TRIPLE: writes a tiny dyn53 wrapper that runs the real
# cross-built BINARY under its qemu-user emulator, and logs each call to WRAPPER.calls.
emulated_bin() {
	local wrapper=$1 binary=$2 qemu
	qemu=$(qemu_for "$3") || return 1
	[ -z "$qemu" ] || qemu=$(command -v "$qemu") || { echo "no $qemu" >&2; return 1; }
	cat >"$wrapper" <<WRAP
#!$BUSYBOX sh
echo "\$*" >>"$wrapper.calls"
exec $qemu "$binary" "\$@"
WRAP
	chmod 755 "$wrapper"
	: >"$wrapper.calls"
}

# tree DIR: one line per entry below DIR: path, type, mode, and sha256 for files,
# link target for symlinks. Equal listings mean byte-for-byte equal trees.
tree() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 -printf '%p %y %m\n' | LC_ALL=C sort | while read -r p y m; do
			case $y in
			f) echo "$p f $m $(sha256sum <"$p" | cut -d' ' -f1)" ;;
			l) echo "$p l $(readlink "$p")" ;;
			*) echo "$p $y $m" ;;
			esac
		done
	)
}

# version: the client version from Cargo.toml (the package version of every artefact).
cargo_version() {
	sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1
}

# opkg_unpack IPK ROOT: does what `opkg install --offline-root ROOT` does before the scripts
# run: unpacks the data into ROOT and records the package in its opkg info directory
# (/usr/lib/opkg/info on OpenWrt, /opt/lib/opkg/info on Entware). Prints the info dir.
opkg_unpack() {
	local ipk=$1 root=$2 tmp pkg info
	tmp=$(mktemp -d)
	tar -xzf "$ipk" -C "$tmp" || return 1
	mkdir "$tmp/control"
	tar -xzf "$tmp/control.tar.gz" -C "$tmp/control" || return 1
	pkg=$(sed -n 's/^Package: //p' "$tmp/control/control")
	tar -xzf "$tmp/data.tar.gz" -C "$root" || return 1
	if tar -tzf "$tmp/data.tar.gz" | grep -q '^\./opt/'; then info=$root/opt/lib/opkg/info; else info=$root/usr/lib/opkg/info; fi
	mkdir -p "$info"
	tar -tzf "$tmp/data.tar.gz" | grep -v '/$' | sed 's#^\.##' >"$info/$pkg.list"
	for f in control conffiles postinst prerm; do
		[ -f "$tmp/control/$f" ] && cp -p "$tmp/control/$f" "$info/$pkg.$f"
	done
	rm -rf "$tmp"
	echo "$info"
}

# need_router_binaries TRIPLE...: the cross-built binaries from `make router`; builds them
# with .ci/build-router when some are missing. Fails (never fakes) when they cannot be had.
need_router_binaries() {
	local t missing=()
	for t in "$@"; do [ -f "$DIST/$t/dyn53" ] || missing+=("$t"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ -x "$REPO/.ci/build-router" ]; then
		echo "  building router binaries (.ci/build-router) for: ${missing[*]}"
		"$REPO/.ci/build-router" >&2 || true
	fi
	missing=()
	for t in "$@"; do [ -f "$DIST/$t/dyn53" ] || missing+=("$t"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "  FAIL router binaries missing: ${missing[*]/%//dyn53} (make router)" >&2
	return 1
}

# merlin_firmware DIR: the two firmware commands the Merlin scripts call, as recorders:
# DIR/nvram answers `nvram get KEY` from DIR/nvram.txt (KEY=VALUE lines), and
# DIR/ddns_custom_updated appends its argument to DIR/ddns_custom_updated.log.
merlin_firmware() {
	local dir=$1
	mkdir -p "$dir"
	cat >"$dir/nvram" <<NV
#!$BUSYBOX sh
[ "\$1" = get ] || { echo "nvram: only get here" >&2; exit 1; }
sed -n "s/^\$2=//p" "$dir/nvram.txt"
NV
	cat >"$dir/ddns_custom_updated" <<UP
#!$BUSYBOX sh
echo "\$1" >>"$dir/ddns_custom_updated.log"
UP
	chmod 755 "$dir/nvram" "$dir/ddns_custom_updated"
	printf 'jffs2_scripts=1\nwan_primary=0\n' >"$dir/nvram.txt"
	: >"$dir/ddns_custom_updated.log"
}

# bbsh BBDIR [VAR=VALUE...] -- SCRIPT ARGS...: runs a script under BusyBox ash with only
# BusyBox applets on PATH and only the given variables in the environment, like a router.
bbsh() {
	local bb=$1
	shift
	local vars=()
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	env -i PATH="$bb" HOME=/root TMPDIR="${SCRATCH:-/tmp}" DYN53_LOGGER="$bb/logger" "${vars[@]}" \
		"$BUSYBOX" sh "$@"
}

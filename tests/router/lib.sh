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

# stop_tree PID: stops a process and everything it started (by process id, children first).
stop_tree() {
	local c
	for c in $(pgrep -P "$1"); do stop_tree "$c"; done
	kill "$1" 2>/dev/null
}

# Background processes (moto, backend, loops) stopped when the script exits.
RT_PIDS=()
rt_cleanup() {
	local p
	for p in "${RT_PIDS[@]}"; do stop_tree "$p" && wait "$p" 2>/dev/null; done
	[ -z "${SCRATCH:-}" ] || [ "${KEEP_SCRATCH:-0}" = 1 ] || rm -rf "$SCRATCH"
}
trap rt_cleanup EXIT
trap "exit 143" TERM INT

# scratch: a fresh directory removed when the script exits (unless KEEP_SCRATCH=1).
scratch() {
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/dyn53-router.XXXXXX")
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

# cargo_version: the client version from Cargo.toml (the package version of every artefact).
cargo_version() {
	sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1
}

# pkg_release: PKG_RELEASE of the OpenWrt feed Makefile (the packages' -N suffix).
pkg_release() { sed -n 's/^PKG_RELEASE:=//p' "$REPO/openwrt/Makefile"; }

# ipk_file ARCH: the package .ci/build-ipk writes for ARCH.
ipk_file() { echo "$DIST/dyn53_$(cargo_version)-$(pkg_release)_$1.ipk"; }

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
	for f in control conffiles postinst postinst-pkg prerm; do
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

# openwrt_tools DIR: the three OpenWrt commands the hotplug script asks about the LAN prefix,
# as stand-ins in DIR (none is packaged for Debian): `uci -q -c CONFDIR get
# PKG.@TYPE[0].OPTION` (or PKG.NAME.OPTION) reads the first matching option of that UCI file;
# `ubus call network.interface.IFACE status` prints DIR/netifd/IFACE.json, netifd's answer
# (exit 4, "Not found", when the file is missing); jsonfilter is jsonfilter.py.
openwrt_tools() {
	local dir=$1
	mkdir -p "$dir/netifd"
	cat >"$dir/uci" <<UCI
#!$BUSYBOX sh
# uci stand-in for tests: only -q, -c CONFDIR and get.
confdir=/etc/config
while [ \$# -gt 0 ]; do
	case \$1 in -q) ;; -c) shift; confdir=\$1 ;; get) shift; break ;; *) exit 1 ;; esac
	shift
done
pkg=\${1%%.*} rest=\${1#*.}
sec=\${rest%.*} opt=\${rest##*.}
[ -f "\$confdir/\$pkg" ] || exit 1
awk -v sec="\$sec" -v opt="\$opt" '
	function unq(v) { gsub(/^["\x27]|["\x27]\$/, "", v); return v }
	\$1 == "config" { n[unq(\$2)]++; here = (sec == "@" unq(\$2) "[0]" && n[unq(\$2)] == 1) || unq(\$3) == sec; next }
	here && \$1 == "option" && unq(\$2) == opt { v = \$0; sub(/^[ \t]*option[ \t]+[^ \t]+[ \t]+/, "", v); print unq(v); found = 1; exit }
	END { exit !found }' "\$confdir/\$pkg"
UCI
	cat >"$dir/ubus" <<UBUS
#!$BUSYBOX sh
# ubus stand-in for tests: only \`call network.interface.IFACE status\`.
[ "\$1 \$3" = "call status" ] || exit 1
f="$dir/netifd/\${2#network.interface.}.json"
[ -f "\$f" ] || { echo "Command failed: Not found" >&2; exit 4; }
cat "\$f"
UBUS
	printf '#!%s sh\nexec %s %s "$@"\n' "$BUSYBOX" "$(python3 -c "import sys; print(sys.executable)")" "$ROUTER_TESTS/jsonfilter.py" >"$dir/jsonfilter"
	chmod 755 "$dir/uci" "$dir/ubus" "$dir/jsonfilter"
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
	# dyn53 writes its status file to the scratch dir, not the host's /var/run (a caller's
	# own DYN53_STATUS_FILE, later in the list, wins).
	env -i PATH="$bb" HOME=/root TMPDIR="${SCRATCH:-/tmp}" DYN53_LOGGER="$bb/logger" \
		DYN53_STATUS_FILE="${SCRATCH:-/tmp}/dyn53-status.json" "${vars[@]}" \
		"$BUSYBOX" sh "$@"
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds; a liveness
# bound, not a timing assertion.
wait_for() {
	local tries=$(($1 * 5))
	shift
	while ! "$@" 2>/dev/null; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.2
	done
}

# port_open PORT [HOST]: something listens on HOST (default 127.0.0.1) PORT.
port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

aws() { python3 "$ROUTER_TESTS/aws.py" "$@"; }

# backend_up DIR: the local backend on moto, as the backend docs run it: moto_server, an SNS
# topic, the DynamoDB table (dyn53-backend table create), the hosted zone example.com, and
# `dyn53-backend serve` on a free loopback port. Sets BACKEND BACKEND_URL ZONE_ID.
backend_up() {
	local dir=$1 moto_port
	BACKEND=${CARGO_TARGET_DIR:-$REPO/target}/debug/dyn53-backend
	echo "  building dyn53-backend (cargo build -p dyn53-backend)"
	(cd "$REPO" && cargo build -q -p dyn53-backend --locked) >"$dir/cargo.log" 2>&1 || {
		tail -n 20 "$dir/cargo.log" >&2
		return 1
	}
	export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
	moto_port=$(aws free-port)
	# The tests' one moto starter; it stops moto when this shell is gone, even if killed.
	"$REPO/tests/support/moto-up" "$moto_port" "$$" >"$dir/moto.log" 2>&1 &
	RT_PIDS+=($!)
	export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port
	wait_for 60 port_open "$moto_port" || { echo "moto_server did not start" >&2; return 1; }
	export DYN53_TABLE=dyn53-router-test
	DYN53_TOPIC_ARN=$(aws topic-create dyn53) || return 1
	export DYN53_TOPIC_ARN
	"$BACKEND" table create >"$dir/table.log" 2>&1 || { cat "$dir/table.log" >&2; return 1; }
	ZONE_ID=$(aws zone-create example.com) || return 1
	BACKEND_PORT=$(aws free-port)
	BACKEND_URL=http://127.0.0.1:$BACKEND_PORT/
	backend_serve "$dir"
}

# backend_serve DIR: (re)starts `dyn53-backend serve` on BACKEND_PORT.
backend_serve() {
	"$BACKEND" serve --listen "127.0.0.1:$BACKEND_PORT" >>"$1/serve.log" 2>&1 &
	BACKEND_PID=$!
	RT_PIDS+=("$BACKEND_PID")
	wait_for 60 port_open "$BACKEND_PORT" || { echo "dyn53-backend serve did not start" >&2; return 1; }
}

# backend_stop: stops `dyn53-backend serve` (the backend becomes unreachable).
backend_stop() {
	kill "$BACKEND_PID" 2>/dev/null
	wait "$BACKEND_PID" 2>/dev/null
	return 0
}

# host_add OUT HOSTNAME [options]: `dyn53-backend host add` for zone ZONE_ID with the local
# URL; its output (secret and both client configs) goes to OUT.
host_add() {
	local out=$1 name=$2
	shift 2
	"$BACKEND" host add "$name" --zone-id "$ZONE_ID" --url "$BACKEND_URL" "$@" >"$out" 2>&1
}

# printed_config OUT openwrt|merlin: the client config `host add` printed, as pasted.
printed_config() {
	case $2 in
	openwrt) sed -n '/^OpenWrt: /,/^Asuswrt-Merlin: /p' "$1" | sed '1d;$d' ;;
	merlin) sed -n '/^Asuswrt-Merlin: /,$p' "$1" | sed '1d' ;;
	esac
}

# record NAME TYPE: the values of a record in the moto hosted zone, or "none".
record() { aws record "$ZONE_ID" "$1" "$2"; }

# show_log TEXT: prints log lines indented under the current check.
show_log() {
	local line
	[ -z "$1" ] && return 0
	while IFS= read -r line; do echo "    log: $line"; done <<<"$1"
}

# tls_front DIR: a throwaway test CA and a TLS terminator (socat) in front of the local
# backend on BACKEND_PORT, as a function URL is. Sets TLS_PORT, TLS_URL and TLS_CA (the CA
# certificate a client must trust).
tls_front() {
	local pki=$1/pki
	mkdir -p "$pki"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=dyn53-test-ca \
		-keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
		-keyout "$pki/server.key" -out "$pki/server.csr" 2>/dev/null || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$pki/ext"
	openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
		-days 2 -extfile "$pki/ext" -out "$pki/server.pem" 2>/dev/null || return 1
	TLS_PORT=$(aws free-port)
	socat "OPENSSL-LISTEN:$TLS_PORT,bind=127.0.0.1,reuseaddr,fork,cert=$pki/server.pem,key=$pki/server.key,verify=0" \
		"TCP:127.0.0.1:$BACKEND_PORT" 2>"$1/socat.log" &
	RT_PIDS+=($!)
	export TLS_CA=$pki/ca.pem TLS_URL=https://127.0.0.1:$TLS_PORT/
	wait_for 30 port_open "$TLS_PORT" || { echo "socat did not start" >&2; return 1; }
}

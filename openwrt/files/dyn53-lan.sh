#!/bin/sh
# /usr/libexec/dyn53-lan.sh, sourced (not run) by the hotplug script and by dyn53-run: the
# LAN's IPv6 prefix that goes with an update when option lan_prefix is on, read the same
# way for interface events and for the periodic re-check. Sets only dyn53_* variables.
# DYN53_LOGGER names the syslog command (default: logger), for tests.

# dyn53_lan_interface CONFIG WHY: sets dyn53_lan to the interface whose prefix is sent,
# empty when option lan_prefix (global section of the UCI file CONFIG) is off. Off: '0' or
# unset; '1' (or another UCI true word): the 'lan' interface; else the logical interface
# to ask. `uci` reads it, as OpenWrt's own scripts do. WHY starts the log line.
dyn53_lan_interface() {
	dyn53_lan=$(uci -q -c "${1%/*}" get "${1##*/}.@dyn53[0].lan_prefix")
	case $dyn53_lan in
	'' | 0 | no | off | false | disabled) dyn53_lan= ;;
	1 | yes | on | true | enabled) dyn53_lan=lan ;;
	*[!A-Za-z0-9_.-]*)
		"${DYN53_LOGGER:-logger}" -t dyn53 -p daemon.err \
			"$2: option lan_prefix '$dyn53_lan' is not an interface name; ignored"
		dyn53_lan=
		;;
	esac
}

# dyn53_lan_prefix WHY: sets dyn53_prefix to the first global unicast prefix netifd
# assigned to interface $dyn53_lan (its ipv6-prefix-assignment list also holds the ULA
# one), as ADDRESS/MASK, read with ubus + jsonfilter as /lib/functions/network.sh does.
# None, or not one dyn53 accepts: dyn53_prefix is empty and the reason is logged.
dyn53_lan_prefix() {
	dyn53_prefix=
	dyn53_event=$1
	[ -n "$dyn53_lan" ] || return 0
	dyn53_why="interface $dyn53_lan has no global IPv6 prefix"
	dyn53_status=$(ubus call "network.interface.$dyn53_lan" status 2>/dev/null)
	[ -n "$dyn53_status" ] || dyn53_status='{}'
	dyn53_addrs=$(jsonfilter -s "$dyn53_status" -e "@['ipv6-prefix-assignment'][*].address" 2>/dev/null)
	dyn53_masks=$(jsonfilter -s "$dyn53_status" -e "@['ipv6-prefix-assignment'][*].mask" 2>/dev/null)
	# shellcheck disable=SC2086 # one mask per word, in the order of the addresses
	set -- $dyn53_masks
	for dyn53_addr in $dyn53_addrs; do
		dyn53_mask=${1:-}
		[ $# = 0 ] || shift
		case $dyn53_addr in
		[23]*) ;;
		*) continue ;; # ULA (fd00::/8) or link-local: not for public records
		esac
		case $dyn53_addr in
		*[!0-9A-Fa-f:]* | *:*:*:*:*:*:*:*:*) dyn53_addr= ;;
		esac
		# What dyn53 accepts (it refuses the whole update otherwise): /48 to /64.
		case $dyn53_mask in
		4[89] | 5[0-9] | 6[0-4]) ;;
		*) dyn53_addr= ;;
		esac
		if [ -n "$dyn53_addr" ]; then
			dyn53_prefix=$dyn53_addr/$dyn53_mask
		else
			dyn53_why="interface $dyn53_lan gave a LAN prefix that is not a global /48 to /64 one"
		fi
		break
	done
	[ -n "$dyn53_prefix" ] ||
		"${DYN53_LOGGER:-logger}" -t dyn53 -p daemon.notice "$dyn53_event: $dyn53_why; updating without it"
}

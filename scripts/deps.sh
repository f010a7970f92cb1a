# scripts/deps.sh: the Debian packages kantorpos needs, and the one function
# that installs the missing ones (sourced by ./check and ./demo).
DEPS_BUILD="build-essential autoconf automake libtool pkg-config libev-dev libssl-dev libsodium-dev libcriterion-dev openssl"
DEPS_TEST="python3 swaks mpop fetchmail valgrind"
# The libFuzzer targets (./check, make fuzz): clang and its runtime.
DEPS_FUZZ="clang libclang-rt-14-dev"
# Peers the interoperability tests run sandboxed on loopback; their system
# services must not start when the packages are installed.
DEPS_PEERS="postfix dovecot-pop3d"

deps_missing() {
	local pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$pkg"
	done
}

deps_install() {
	local missing sudo=""
	command -v dpkg-query >/dev/null 2>&1 || { echo "deps: not a Debian system; install: $DEPS_BUILD $DEPS_TEST $DEPS_FUZZ" >&2; return 0; }
	# shellcheck disable=SC2086
	missing=$(deps_missing $DEPS_BUILD $DEPS_TEST $DEPS_FUZZ $DEPS_PEERS)
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "deps: installing $missing"
	$sudo apt-get update -qq
	# policy-rc.d exit 101 keeps invoke-rc.d from starting the peers'
	# system services (a real postfix on port 25) during the install.
	local guard=/usr/sbin/policy-rc.d placed=no
	if [ ! -e "$guard" ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee "$guard" >/dev/null
		$sudo chmod 755 "$guard"
		placed=yes
	fi
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
		[ $placed = yes ] && $sudo rm -f "$guard"; return 1; }
	[ $placed = yes ] && $sudo rm -f "$guard"
	return 0
}

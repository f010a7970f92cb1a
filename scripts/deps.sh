# scripts/deps.sh: the Debian packages kantorpos needs, and the function that
# installs the missing ones (sourced by ./check, ./demo and bench/run).
#
# Every package a build, a test or a benchmark touches is named here, even
# when another package usually pulls it in: installs run with
# --no-install-recommends, so nothing arrives by chance.

# Building and running kantorpos (./demo needs only these); dns-root-data
# holds the root's trust anchor, the default dns_trust_anchor; publicsuffix
# is the Public Suffix List libpsl reads for DMARC.
DEPS_BUILD="build-essential autoconf automake libtool pkg-config libev-dev libssl-dev libsodium-dev libcriterion-dev libunbound-dev libpsl-dev publicsuffix dns-root-data openssl"
# The test suites: swaks speaks TLS through Net::SSLeay and IO::Socket::SSL;
# groff and mandoc lint the manual pages; fail2ban-regex checks the shipped
# filter against real log lines; systemd-analyze verifies the units (and
# runs man-db's man for their Documentation= pages), systemd-sysusers and
# systemd-tmpfiles apply the shipped files to a scratch root;
# logrotate checks the shipped snippet; git lists the tracked sources for
# scripts/structure-check; nsd serves the DNS tests' zones, which ldnsutils
# (ldns-keygen, ldns-signzone) signs; s-nail is the mailx that
# tests/e2e_sendmail.py points at kantorpos-sendmail (it needs no MTA);
# python3-cryptography makes e2e_dane's expired certificate; python3-dkim
# (dkimpy, with python3-nacl for Ed25519) is the DKIM oracle of
# tests/e2e_dkim_oracle.py and, with opendkim-tools (opendkim-testmsg),
# of tests/e2e_dkim_sign.py; python3-publicsuffix2 is the second reader of
# the Public Suffix List (tests/e2e_orgdomain_oracle.py) and python3-authres
# the reader of Authentication-Results fields (tests/e2e_authres_oracle.py);
# python3-spf ships RFC 7208's test suite (rfc7208-tests.yml.gz) that
# tests/e2e_spf_suite.py reads with python3-yaml.
DEPS_TEST="git python3 swaks libnet-ssleay-perl libio-socket-ssl-perl mpop fetchmail valgrind groff-base mandoc fail2ban systemd man-db logrotate procps iproute2 nsd ldnsutils s-nail python3-cryptography python3-dkim python3-nacl opendkim-tools python3-publicsuffix2 python3-authres python3-spf python3-yaml"
# The libFuzzer targets (./check, make fuzz): clang and its runtime.
DEPS_FUZZ="clang libclang-rt-14-dev"
# Peers the interoperability tests and benchmarks run sandboxed on loopback.
# They are installed only where no other package provides
# mail-transport-agent: installing postfix would remove an exim4 or any
# other MTA the machine's owner chose. The outbound benchmark adds the DNS
# both senders ask: nsd serving the signed zone (ldnsutils signs it) behind
# unbound, the validating resolver Postfix's DANE needs; the units their
# packages enable are disabled again like every other.
DEPS_PEERS="postfix dovecot-pop3d nsd ldnsutils unbound"

# Packages of the list that are not installed.
deps_missing() {
	local pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$pkg"
	done
}

# The installed package, other than postfix, that provides
# mail-transport-agent (empty when there is none).
deps_other_mta() {
	dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null |
		awk -F'|' '$1 ~ /^ii/ && $2 != "postfix" && $3 ~ /(^|[ ,])mail-transport-agent([ ,(]|$)/ { print $2; exit }'
}

# Why the peers are not installed, or empty when they may be.
deps_peers_refused() {
	local mta
	mta=$(deps_other_mta)
	[ -n "$mta" ] && echo "$mta provides mail-transport-agent on this machine; Postfix and Dovecot are not installed beside it"
	return 0
}

# The links that enable services at boot: systemd wants/requires links and
# SysV start links.
deps_enabled_links() {
	find /etc/systemd/system -type l 2>/dev/null
	ls -d /etc/rc[2-5].d/S* 2>/dev/null
	return 0
}

# Disable what an install enabled: each link in $2 that is not in $1. The
# unit's package asked for it at install time; the machine's owner did not.
deps_disable_new() {
	local before=$1 after=$2 link unit done=" "
	while read -r link; do
		[ -n "$link" ] || continue
		grep -qxF "$link" <<<"$before" && continue
		unit=${link##*/}
		case $link in
		/etc/rc*)
			unit=${unit#S[0-9][0-9]}
			if [ -e "$link" ]; then $deps_sudo update-rc.d "$unit" disable >/dev/null 2>&1 || true; fi ;;
		*)
			$deps_sudo systemctl disable --no-reload "$unit" >/dev/null 2>&1 || true
			$deps_sudo rm -f "$link" ;;
		esac
		case $done in *" $unit "*) continue ;; esac
		done="$done$unit "
		echo "deps: disabled $unit at boot (its package enabled it; the tests run their own sandboxed instances)"
	done <<<"$after"
}

# deps_install GROUP...: install the missing packages of the named groups
# (build, test, fuzz, peers). Service start-up is denied during the install
# (policy-rc.d exit 101) and whatever the install enabled is disabled again.
deps_install() {
	local group pkgs="" missing refused
	for group in "$@"; do
		case $group in
		build) pkgs="$pkgs $DEPS_BUILD" ;;
		test) pkgs="$pkgs $DEPS_TEST" ;;
		fuzz) pkgs="$pkgs $DEPS_FUZZ" ;;
		peers)
			refused=$(deps_peers_refused)
			if [ -n "$refused" ]; then
				echo "deps: $refused; their tests are skipped" >&2
			else
				pkgs="$pkgs $DEPS_PEERS"
			fi ;;
		*) echo "deps: unknown group $group" >&2; return 2 ;;
		esac
	done
	command -v dpkg-query >/dev/null 2>&1 || { echo "deps: not a Debian system; install:$pkgs" >&2; return 0; }
	# shellcheck disable=SC2086
	missing=$(deps_missing $pkgs)
	[ -z "$missing" ] && return 0
	deps_sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || {
			echo "deps: missing packages: $missing" >&2
			echo "deps: run as root: apt-get install --no-install-recommends $missing" >&2
			return 1; }
		deps_sudo=sudo
	fi
	echo "deps: installing $missing"
	$deps_sudo apt-get update -qq
	local guard=/usr/sbin/policy-rc.d saved="" placed before after rc=0
	if [ -e "$guard" ] && ! grep -qx 'exit 101' "$guard"; then
		saved=$(mktemp /tmp/kantorpos-policy-rc.d.XXXXXX)
		$deps_sudo cp -p "$guard" "$saved"
	fi
	if [ -n "$saved" ] || [ ! -e "$guard" ]; then
		printf '#!/bin/sh\n# placed by kantorpos scripts/deps.sh during an install\nexit 101\n' | $deps_sudo tee "$guard" >/dev/null
		$deps_sudo chmod 755 "$guard"
		placed=yes
	else
		placed=no
	fi
	before=$(deps_enabled_links)
	# shellcheck disable=SC2086
	$deps_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
	after=$(deps_enabled_links)
	deps_disable_new "$before" "$after"
	if [ -n "$saved" ]; then
		$deps_sudo cp -p "$saved" "$guard"
		rm -f "$saved"
	elif [ $placed = yes ]; then
		$deps_sudo rm -f "$guard"
	fi
	return $rc
}

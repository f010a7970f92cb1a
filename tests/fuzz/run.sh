#!/usr/bin/env bash
# tests/fuzz/run.sh: run libFuzzer targets for a fixed time each (make fuzz,
# ./check). Each target starts from its seed corpus and crashers in the
# source tree and keeps what it finds in WORKDIR/grown/NAME; a crash fails
# the run and prints the reproducer path and how to replay it.
#
#   run.sh --seconds N --jobs J --srcdir DIR --workdir DIR FUZZER...
set -uo pipefail
seconds=20 jobs=1 srcdir=. workdir=.
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--srcdir) srcdir=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "run.sh: no fuzz targets" >&2; exit 2; }

# One target: libFuzzer writes new inputs into the first corpus directory
# and a crashing input under -artifact_prefix.
run_one() {
	local prog=$1 name work art log rc
	name=$(basename "$prog"); name=${name#fuzz_}
	work=$workdir/grown/$name art=$workdir/artifacts/$name/ log=$workdir/logs/$name.log
	mkdir -p "$work" "$art" "$(dirname "$log")"
	local dirs=("$work" "$srcdir/tests/fuzz/corpus/$name")
	[ -d "$srcdir/tests/fuzz/crashers/$name" ] && dirs+=("$srcdir/tests/fuzz/crashers/$name")
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$prog" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len=4096 -print_final_stats=1 -artifact_prefix="$art" \
		"${dirs[@]}" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		printf 'fuzz %-10s ok: %s\n' "$name" \
			"$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | sed 's/$/ runs/')"
		return 0
	fi
	tail -n 40 "$log"
	local repro
	repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	echo "fuzz $name FAILED (exit $rc); log: $log"
	if [ -n "$repro" ]; then
		echo "fuzz $name: reproducer: $repro"
		echo "fuzz $name: replay it with: $prog $repro"
		echo "fuzz $name: once fixed, keep it as tests/fuzz/crashers/$name/<what-it-was>"
	fi
	return 1
}

status=0 running=0
for prog in "$@"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || status=1
		running=$((running - 1))
	fi
	run_one "$prog" &
	running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
	wait -n || status=1
	running=$((running - 1))
done
[ $status -eq 0 ] && echo "fuzz: $# targets, $seconds s each: no crash" || echo "fuzz: FAILED"
exit $status

#!/bin/sh
# beside.sh FILE LABEL CMD...: decodes FILE the way `hubble observe
# --input-file` does (bin/hubbledecode), then runs CMD under /usr/bin/time
# and prints its output (less warnings), its wall time and peak RSS, and
# the ratio of its time to the decoding's. `make bench-scale` runs it for
# every capture.
set -e
f=$1 label=$2
shift 2
dec=$(./bin/hubbledecode "$f")
echo "$dec"
p=$(echo "$dec" | awk '{sub(/s$/, "", $2); print $2}')
t=$(mktemp) o=$(mktemp)
trap 'rm -f "$t" "$o"' EXIT
if ! /usr/bin/time -f "%e %M" -o "$t" "$@" > "$o" 2>&1; then
	cat "$o" "$t"
	echo "$label failed" >&2
	exit 1
fi
grep -v '^warning' "$o" || true
read -r wall rss < "$t"
echo "$label $wall s wall, $rss KB peak RSS: $(echo "$wall $p" | awk '{printf "%.2f", $1 / $2}')x protojson's time"

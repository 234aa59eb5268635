#!/usr/bin/env bash
# Measures what RRL and DNS cookies cost in queries per second: dnsperf on
# loopback against one node with rrl off, with rrl on (a rate never
# reached, so every reply is accounted but none limited), and with rrl on
# plus a client cookie on every query (a server cookie made per reply).
# Usage: bench/protection.sh [seconds] [clients]. Needs dnsperf.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
clients=${2:-4}
command -v dnsperf >/dev/null || { echo "dnsperf missing: apt-get install dnsperf" >&2; exit 1; }

go build -o bin/gslbd ./cmd/gslbd
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"' EXIT

config() { # $1: extra YAML
	cat >"$dir/gslbd.yaml" <<Y
node: bench
regions: [{name: r1, latitude: 0, longitude: 0}]
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    records: [{name: www, type: A, value: 192.0.2.80}]
$1
Y
}

run() { # $1: label, $2: extra YAML, $3...: extra dnsperf args
	local label=$1 extra=$2
	shift 2
	config "$extra"
	local port
	port=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	bin/gslbd -config "$dir/gslbd.yaml" -dns "127.0.0.1:$port" -http "" -log-level warn >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 50); do dig +short +time=1 @127.0.0.1 -p "$port" www.gslb.test >/dev/null 2>&1 && break; sleep 0.2; done
	printf 'www.gslb.test A\n' >"$dir/q"
	local qps
	qps=$(dnsperf -s 127.0.0.1 -p "$port" -d "$dir/q" -l "$secs" -c "$clients" -Q 500000 -S 0 "$@" 2>/dev/null |
		awk '/Queries per second/ {print $4}')
	kill $pid; wait $pid 2>/dev/null || true
	pid=
	printf '%-28s %12s qps\n' "$label" "$qps"
}

rrl='rrl: {responses_per_second: 1000000}'
run "rrl off, no cookie" ""
run "rrl on, no cookie" "$rrl"
run "rrl off, client cookie" "" -E 10:0102030405060708
run "rrl on, client cookie" "$rrl" -E 10:0102030405060708

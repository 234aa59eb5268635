#!/usr/bin/env bash
# Measures queries per second and latency of a -dev node with dnsperf, on
# loopback only. Usage: bench/dnsperf.sh [seconds] [clients]
# Needs dnsperf (Debian package dnsperf; make deps installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
clients=${2:-4}
command -v dnsperf >/dev/null || { echo "dnsperf missing: apt-get install dnsperf" >&2; exit 1; }

go build -o bin/gslbd ./cmd/gslbd
port=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
bin/gslbd -dev -dns "127.0.0.1:$port" -http 127.0.0.1:0 -log-level warn >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do dig +short +time=1 @127.0.0.1 -p "$port" www.gslb.test >/dev/null 2>&1 && break; sleep 0.2; done

queries=$(mktemp)
cat >"$queries" <<'Q'
www.gslb.test A
app.gslb.test A
app.gslb.test AAAA
db.gslb.test A
nope.gslb.test A
gslb.test SOA
gslb.test NS
Q
echo "== static, GSLB, NXDOMAIN mix; ${secs}s, ${clients} clients =="
dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -l "$secs" -c "$clients" -Q 200000 -S 1 | sed -n '/Statistics/,$p'
echo "== with EDNS Client Subnet 175.16.199.0/24 (geo lookup + ranking per query) =="
dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -l "$secs" -c "$clients" -Q 200000 -e -E 8:00011800af10c7 -S 1 2>/dev/null | sed -n '/Statistics/,$p' || true
rm -f "$queries"

#!/usr/bin/env bash
# Measures what RRL and DNS cookies cost: dnsperf on loopback sends the
# same EDNS query for www (a static A, the fast path's cheapest answer, so
# the relative cost is the largest) to two gslbd processes, one without
# rrl and one with rrl at a rate never reached (every reply is charged to
# a bucket, none is limited), in these modes:
#
#   plain            no rrl, no cookie
#   rrl              rrl, no cookie
#   cookie           no rrl, a valid server cookie (checked and echoed)
#   client-cookie    no rrl, a client cookie alone (a server cookie made per reply)
#   rrl+cookie       rrl, a valid server cookie (which exempts it from rrl)
#   rrl+client       rrl, a client cookie alone (charged and a cookie made)
#
# Every round runs each mode once, the order rotated from round to round,
# so the load of a shared machine falls on all modes alike; each mode's
# cost is taken against the same round's plain run. It prints per run and
# as medians: QPS, the server's CPU per query (utime+stime from /proc)
# and the cost against plain in percent. On a loaded machine prefer many
# short rounds (e.g. 5 s x 12) to a few long ones.
#
# Usage: bench/protection.sh [seconds per run] [rounds] [clients]
# (also bench/compare.sh protection ...). Needs dnsperf and dig. Binds
# 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
clients=${3:-16}
for tool in dnsperf dig; do
	command -v "$tool" >/dev/null || { echo "$tool missing: make deps (dnsperf, bind9-dnsutils)" >&2; exit 1; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/gslbd" ./cmd/gslbd
freeport() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# start NAME EXTRA_YAML: starts a node, sets NAME_pid and NAME_port.
start() {
	local name=$1 port
	port=$(freeport)
	cat >"$tmp/$name.yaml" <<Y
node: $name
regions: [{name: r1, latitude: 0, longitude: 0}]
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    records: [{name: www, type: A, value: 192.0.2.80}]
cookies: {secrets: ["00112233445566778899aabbccddeeff"]}
$2
Y
	"$tmp/gslbd" -config "$tmp/$name.yaml" -dns "127.0.0.1:$port" -http "" -log-level warn >"$tmp/$name.log" 2>&1 &
	pids+=("$!")
	printf -v "${name}_pid" %s "$!"
	printf -v "${name}_port" %s "$port"
	for _ in $(seq 1 100); do
		dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" www.gslb.test 2>/dev/null | grep -q 192.0.2.80 && return 0
		sleep 0.2
	done
	echo "$name did not answer; log:" >&2
	cat "$tmp/$name.log" >&2
	exit 1
}
# start_nodes: the two nodes, on fresh ports, and a valid server cookie
# for 127.0.0.1 (dnsperf's source; the nodes share the secret). Fresh
# ports each round also vary how SO_REUSEPORT spreads dnsperf's sockets
# over each node's workers, which otherwise favours one node throughout.
client=0102030405060708
start_nodes() {
	start plain ""
	start rrl "rrl: {responses_per_second: 1000000, errors_per_second: 1000000, nxdomains_per_second: 1000000}"
	server=$(dig +cookie=$client @127.0.0.1 -p "$plain_port" www.gslb.test |
		awk '/; COOKIE:/ {print tolower($3)}')
	[ ${#server} -eq 48 ] || { echo "no server cookie from gslbd: '$server'" >&2; exit 1; }
}
stop_nodes() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

printf 'www.gslb.test A\n' >"$tmp/q"
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# measure MODE: prints "qps cpu_us_per_query" for one run of MODE.
measure() {
	local node opt=() pid port out c0 c1 n qps
	case $1 in
	plain) node=plain ;;
	rrl) node=rrl ;;
	cookie) node=plain opt=(-E "10:$server") ;;
	client-cookie) node=plain opt=(-E "10:$client") ;;
	rrl+cookie) node=rrl opt=(-E "10:$server") ;;
	rrl+client) node=rrl opt=(-E "10:$client") ;;
	esac
	pid=${node}_pid port=${node}_port
	pid=${!pid} port=${!port}
	c0=$(cpu_ticks "$pid")
	out=$(dnsperf -s 127.0.0.1 -p "$port" -d "$tmp/q" -l "$secs" -c "$clients" -Q 1000000 -q 500 -e "${opt[@]}" 2>&1)
	c1=$(cpu_ticks "$pid")
	n=$(awk '/Queries completed:/ {print $3}' <<<"$out")
	qps=$(awk '/Queries per second:/ {printf "%.0f", $4}' <<<"$out")
	awk -v q="$qps" -v n="$n" -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN {printf "%s %.3f\n", q, (n > 0 ? t / hz * 1e6 / n : 0)}'
}

modes=(plain rrl cookie client-cookie rrl+cookie rrl+client)
results=$tmp/results
: >"$results"
for r in $(seq 1 "$rounds"); do
	start_nodes
	for i in "${!modes[@]}"; do
		m=${modes[$(((i + r - 1) % ${#modes[@]}))]}
		read -r q c <<<"$(measure "$m")"
		echo "$r $m $q $c" | tee -a "$results" >&2
	done
	stop_nodes
done

echo "== per run (round mode qps cpu-us/query) =="
cat "$results"
echo
echo "== medians over $rounds rounds; ${secs}s runs, $clients dnsperf clients, $(nproc) CPUs, static A with EDNS =="
echo "   cost = 1 - qps/plain's qps and cpu/plain's cpu - 1, paired within each round (median, and the"
echo "   middle half of the rounds' costs, which shows how much the machine's load moved the numbers)"
python3 - "$results" "${modes[@]}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
modes = sys.argv[2:]
run = {(r, m): (float(q), float(c)) for r, m, q, c in rows}
rounds = sorted({r for r, _ in run})
def quart(v):
    v = sorted(v)
    return v[len(v) // 4], v[(3 * len(v)) // 4]
print(f"{'mode':14} {'qps':>8} {'qps cost':>9} {'(middle half)':>17} {'cpu us/q':>9} {'cpu cost':>9} {'(middle half)':>17}")
for m in modes:
    qps = [run[r, m][0] for r in rounds]
    cpu = [run[r, m][1] for r in rounds]
    qc = [(1 - run[r, m][0] / run[r, "plain"][0]) * 100 for r in rounds]
    cc = [(run[r, m][1] / run[r, "plain"][1] - 1) * 100 for r in rounds]
    ql, qh = quart(qc)
    cl, ch = quart(cc)
    print(f"{m:14} {statistics.median(qps):8.0f} {statistics.median(qc):8.1f}% {f'{ql:.1f}..{qh:.1f}%':>17}"
          f" {statistics.median(cpu):9.3f} {statistics.median(cc):8.1f}% {f'{cl:.1f}..{ch:.1f}%':>17}")
PY

#!/usr/bin/env bash
# Measures what RRL and DNS cookies cost: dnsperf on loopback sends the
# same EDNS query for www (a static A, the fast path's cheapest answer, so
# the relative cost is the largest) in these modes:
#
#   plain            no rrl, no cookie (a control: plain against plain)
#   rrl              rrl at a rate never reached (every reply is charged
#                    to a bucket, none is limited), no cookie
#   cookie           no rrl, a valid server cookie (checked and echoed)
#   client-cookie    no rrl, a client cookie alone (a server cookie made per reply)
#   rrl+cookie       rrl, a valid server cookie (which exempts it from rrl)
#   rrl+client       rrl, a client cookie alone (charged and a cookie made)
#
# Each run loads two gslbd processes at the same time with one dnsperf
# each: a reference node with plain queries, and a node in the mode
# measured. Both see the same load from the rest of a shared machine, and
# the kernel shares the CPUs between them, so the mode's cost shows in
# the ratio of the two (QPS, and server CPU per query from /proc) even
# when the machine's load moves the absolute numbers by tens of percent;
# the plain mode shows how far apart two identical nodes land. Each node
# has one UDP worker, so that each is one thread to the scheduler (with
# more, how SO_REUSEPORT spreads dnsperf's sockets over a node's workers
# would favour one node); nodes are restarted on fresh ports every round
# and the order of the modes rotates.
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

. bench/lib.sh # after the cd above: paths are from the repository root

go build -o "$tmp/gslbd" ./cmd/gslbd
# freeport: a port free on 127.0.0.1 for both UDP and TCP (gslbd binds
# both); another program may still take it before gslbd does, so start
# retries on a new port.
freeport() {
	python3 - <<'PY'
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
PY
}

# start NAME EXTRA_YAML: starts a node, sets NAME_pid and NAME_port.
start() {
	local name=$1 port pid try
	cat >"$tmp/$name.yaml" <<Y
node: $name
listen: {udp_workers: 1}
regions: [{name: r1, latitude: 0, longitude: 0}]
zones:
  - apex: gslb.test.
    nameservers: [{name: ns1.gslb.test., addresses: [127.0.0.1]}]
    records: [{name: www, type: A, value: 192.0.2.80}]
cookies: {secrets: ["00112233445566778899aabbccddeeff"]}
$2
Y
	for try in 1 2 3; do
		port=$(freeport)
		"$tmp/gslbd" -config "$tmp/$name.yaml" -dns "127.0.0.1:$port" -http "" -log-level warn >"$tmp/$name.log" 2>&1 &
		pid=$!
		for _ in $(seq 1 100); do
			if dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" www.gslb.test 2>/dev/null | grep -q 192.0.2.80; then
				pids+=("$pid")
				printf -v "${name}_pid" %s "$pid"
				printf -v "${name}_port" %s "$port"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break # it stopped: the port was taken
			sleep 0.2
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		echo "$name on port $port, try $try, did not answer: $(tail -1 "$tmp/$name.log")" >&2
	done
	exit 1
}

# start_nodes: the reference node, a second plain node and a node with
# rrl, on fresh ports, and a valid server cookie for 127.0.0.1 (dnsperf's
# source; all nodes share the secret; valid for an hour).
client=0102030405060708
start_nodes() {
	local rrl="rrl: {responses_per_second: 1000000, errors_per_second: 1000000, nxdomains_per_second: 1000000}"
	start ref ""
	start plain ""
	start rrl "$rrl"
	server=$(dig +cookie=$client @127.0.0.1 -p "$ref_port" www.gslb.test |
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

# result FILE PID_TICKS_DELTA: "qps cpu_us_per_query" from dnsperf's output.
result() {
	local n qps
	n=$(awk '/Queries completed:/ {print $3}' "$1")
	qps=$(awk '/Queries per second:/ {printf "%.0f", $4}' "$1")
	awk -v q="${qps:-0}" -v n="${n:-0}" -v t="$2" -v hz="$hz" 'BEGIN {printf "%s %.3f\n", q, (n > 0 ? t / hz * 1e6 / n : 0)}'
}

# measure MODE: one run of the reference and MODE side by side; prints
# "ref_qps ref_cpu mode_qps mode_cpu".
measure() {
	local node opt=() ref_pid=$ref_pid pid port r0 r1 m0 m1 dp1 dp2
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
	r0=$(cpu_ticks "$ref_pid") m0=$(cpu_ticks "$pid")
	dnsperf -s 127.0.0.1 -p "$ref_port" -d "$tmp/q" -l "$secs" -c "$clients" -Q 1000000 -q 500 -e >"$tmp/ref.out" 2>&1 &
	dp1=$!
	dnsperf -s 127.0.0.1 -p "$port" -d "$tmp/q" -l "$secs" -c "$clients" -Q 1000000 -q 500 -e "${opt[@]}" >"$tmp/mode.out" 2>&1 &
	dp2=$!
	wait "$dp1" "$dp2"
	r1=$(cpu_ticks "$ref_pid") m1=$(cpu_ticks "$pid")
	echo "$(result "$tmp/ref.out" $((r1 - r0))) $(result "$tmp/mode.out" $((m1 - m0)))"
}

modes=(plain rrl cookie client-cookie rrl+cookie rrl+client)
results=$tmp/results
: >"$results"
for r in $(seq 1 "$rounds"); do
	start_nodes
	for i in "${!modes[@]}"; do
		m=${modes[$(((i + r - 1) % ${#modes[@]}))]}
		echo "$r $m $(measure "$m")" | tee -a "$results" >&2
	done
	stop_nodes
done

echo "== per run (round mode ref-qps ref-cpu-us/query mode-qps mode-cpu-us/query) =="
cat "$results"
echo
echo "== medians over $rounds rounds; ${secs}s runs, $clients dnsperf clients each, $(nproc) CPUs, static A with EDNS =="
echo "   cost = 1 - qps/ref's qps and cpu/ref's cpu - 1, the reference loaded at the same time (median,"
echo "   and the middle half of the rounds' costs: how much the pairing still moves the numbers)"
python3 - "$results" "${modes[@]}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
modes = sys.argv[2:]
run = {(r, m): tuple(map(float, v)) for r, m, *v in rows}
rounds = sorted({r for r, _ in run})
def quart(v):
    v = sorted(v)
    return v[len(v) // 4], v[(3 * len(v)) // 4]
print(f"{'mode':14} {'qps':>8} {'ref qps':>8} {'qps cost':>9} {'(middle half)':>16} {'cpu us/q':>9} {'ref':>6} {'cpu cost':>9} {'(middle half)':>16}")
for m in modes:
    v = [run[r, m] for r in rounds if (r, m) in run and run[r, m][0] > 0 and run[r, m][2] > 0]
    if not v:
        continue
    qc = [(1 - x[2] / x[0]) * 100 for x in v]
    cc = [(x[3] / x[1] - 1) * 100 for x in v]
    ql, qh = quart(qc)
    cl, ch = quart(cc)
    med = lambda i: statistics.median(x[i] for x in v)
    print(f"{m:14} {med(2):8.0f} {med(0):8.0f} {statistics.median(qc):8.1f}% {f'{ql:.1f}..{qh:.1f}%':>16}"
          f" {med(3):9.3f} {med(1):6.3f} {statistics.median(cc):8.1f}% {f'{cl:.1f}..{ch:.1f}%':>16}")
PY

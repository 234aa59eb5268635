#!/usr/bin/env bash
# Scale benchmark (issue 15): generates configs of N GSLB names (3 regions,
# 3 endpoints each, TARGETS distinct liveness URLs served by a local HTTP
# responder on 127.0.0.1) and prints, per size: `gslbd check` time, start
# to serving, RSS, goroutines, idle CPU, republish latency after one target
# fails, and QPS over a random-name mix vs a single name (dnsperf).
# Loopback only. Usage: bench/scale.sh [sizes...]   (default: 1000 10000 100000)
# Env: TARGETS (distinct probe targets, default 30), BIN (a gslbd binary to
# measure instead of building this tree, e.g. an older build), SECS (dnsperf
# seconds, default 5), IDLE (idle-CPU window seconds, default 20), INTERVAL
# (health.interval, default 5s, the product's default).
# Needs python3, dig and dnsperf (make deps installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 100000)
targets=${TARGETS:-30}
secs=${SECS:-5}
idle=${IDLE:-20}
interval=${INTERVAL:-5s}
for c in python3 dig dnsperf; do
	command -v "$c" >/dev/null || { echo "$c missing (make deps installs it)" >&2; exit 1; }
done
if [ -z "${BIN:-}" ]; then
	go build -o bin/gslbd ./cmd/gslbd
	BIN=bin/gslbd
fi
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# The responder: GET /t<k> is 200 unless /flip?t=<k> made it 503
# (/flip?t=none heals them all).
rport=$(freeport)
python3 - "$rport" >/dev/null 2>&1 <<'PY' &
import sys, http.server, urllib.parse
down = set()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path == "/flip":
            t = urllib.parse.parse_qs(u.query)["t"][0]
            # t=none heals every target for the next size.
            down.clear() if t == "none" else down.add(t)
            code = 200
        else:
            code = 503 if u.path[2:] in down else 200
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)

gen() { # gen N FILE DNSPORT HTTPPORT
	python3 - "$@" "$targets" "$rport" "$interval" <<'PY'
import sys
n, path, dport, hport, targets, rport, interval = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7]
regions = [("us-east", 39.0, -77.5, "NA", "192.0.2."), ("eu-west", 53.3, -6.3, "EU", "198.51.100."), ("ap-southeast", 1.35, 103.8, "AS", "203.0.113.")]
with open(path, "w") as f:
    f.write(f'listen:\n  dns: ["127.0.0.1:{dport}"]\n  http: "127.0.0.1:{hport}"\n')
    # rise/fall 1: the republish step fails a target with one probe.
    f.write(f"health:\n  interval: {interval}\n  rise: 1\n  fall: 1\n")
    f.write("regions:\n")
    for r, lat, lon, cont, _ in regions:
        f.write(f"  - name: {r}\n    latitude: {lat}\n    longitude: {lon}\n    continent: {cont}\n")
    f.write("zones:\n  - apex: gslb.test.\n    nameservers:\n      - name: ns1\n        addresses: [\"127.0.0.1\"]\n")
    f.write("    soa:\n      rname: hostmaster\n      serial: 1\n    names:\n")
    for i in range(n):
        f.write(f"      - name: c{i}\n        policy: failover\n        endpoints:\n")
        for j, (r, _, _, _, net) in enumerate(regions):
            t = (i * 3 + j) % targets
            f.write(f"          - region: {r}\n            addresses: [\"{net}{1 + j}\"]\n")
            f.write(f"            liveness:\n              url: http://127.0.0.1:{rport}/t{t}\n")
PY
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

printf '%-7s %-8s %-9s %-8s %-10s %-9s %-11s %-11s %-11s\n' names check serving rss_MB goroutines idle_cpu republish qps_random qps_single
for n in "${sizes[@]}"; do
	cfg=$work/scale-$n.yaml
	dport=$(freeport); hport=$(freeport)
	gen "$n" "$cfg" "$dport" "$hport"
	# check: the median of 3 runs (1 above 10k names), so a cold page
	# cache or a busy moment is not what is reported.
	runs=3
	[ "$n" -le 10000 ] || runs=1
	times=()
	for _ in $(seq 1 "$runs"); do
		t0=$(date +%s.%N)
		if ! "$BIN" check -config "$cfg" >"$work/check.out" 2>&1; then
			break
		fi
		t1=$(date +%s.%N)
		times+=("$(awk "BEGIN{print $t1 - $t0}")")
	done
	if [ ${#times[@]} -lt "$runs" ]; then
		printf '%-7s refused: %s\n' "$n" "$(grep -m1 -i 'error\|refus' "$work/check.out" | cut -c1-110)"
		continue
	fi
	check=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{printf "%.2fs", a[int((NR+1)/2)]}')
	log=$work/node-$n.log
	t0=$(date +%s.%N)
	"$BIN" -config "$cfg" -log-format json >"$log" 2>&1 &
	pid=$!
	pids+=($pid)
	serving=""
	for _ in $(seq 1 1200); do
		# An address, not dig's "connection refused" line (also on stdout).
		if dig +short +time=1 +tries=1 @127.0.0.1 -p "$dport" "c$((n - 1)).gslb.test" A 2>/dev/null | grep -qE '^[0-9.]+$'; then
			serving=$(python3 -c "import time;print(f'{time.time()-$t0:.2f}s')")
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$serving" ]; then
		printf '%-7s did not serve: %s\n' "$n" "$(tail -c 200 "$log")"
		continue
	fi
	sleep 3 # first probe rounds and the start-up publish settle
	c0=$(cpu_ticks "$pid"); sleep "$idle"; c1=$(cpu_ticks "$pid")
	hz=$(getconf CLK_TCK)
	idlecpu=$(python3 -c "print(f'{100*($c1-$c0)/$hz/$idle:.1f}%')")
	rss=$(awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$pid/status")
	gor=$({ curl -s "http://127.0.0.1:$hport/metrics" || true; } | awk '/^go_goroutines /{print $2}')
	# Republish: fail target 0; latency from this node's probe verdict
	# (health log) to the published Snapshot (publisher log).
	lines=$(wc -l <"$log")
	curl -s "http://127.0.0.1:$rport/flip?t=0" >/dev/null || true
	repub=""
	for _ in $(seq 1 100); do
		repub=$(tail -n +"$((lines + 1))" "$log" | python3 -c '
import sys, json, datetime
def ts(v): return datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
h = p = None
for line in sys.stdin:
    try: e = json.loads(line)
    except ValueError: continue
    # "endpoint state changed" is the message of builds before probe targets.
    if e.get("msg") in ("probe target state changed", "endpoint state changed") and h is None: h = e["ts"]
    if e.get("msg") == "agreed state changed" and p is None: p = e["ts"]
if h is not None and p is not None: print(f"{(ts(p)-ts(h))*1000:.1f}ms")
')
		[ -n "$repub" ] && break
		sleep 0.1
	done
	q=$work/q-$n
	python3 -c "import random
for _ in range(100000): print(f'c{random.randrange($n)}.gslb.test A')" >"$q.random"
	for _ in $(seq 1 1000); do echo "c1.gslb.test A"; done >"$q.single"
	qr=$(dnsperf -s 127.0.0.1 -p "$dport" -d "$q.random" -l "$secs" -c 4 -Q 500000 2>/dev/null | awk '/Queries per second/{printf "%.0f", $4}')
	qs=$(dnsperf -s 127.0.0.1 -p "$dport" -d "$q.single" -l "$secs" -c 4 -Q 500000 2>/dev/null | awk '/Queries per second/{printf "%.0f", $4}')
	printf '%-7s %-8s %-9s %-8s %-10s %-9s %-11s %-11s %-11s\n' "$n" "$check" "$serving" "$rss" "${gor:-?}" "$idlecpu" "${repub:-?}" "${qr:-?}" "${qs:-?}"
	kill "$pid"; wait "$pid" 2>/dev/null || true
	curl -s "http://127.0.0.1:$rport/flip?t=none" >/dev/null || true
done

#!/usr/bin/env bash
# Compares gslbd with gdnsd (Debian's package) on loopback, serving the
# same zone: static A, a GSLB name answered by GeoIP + ECS (gslbd: nearest
# ready region; gdnsd: geoip plugin, auto_dc_coords) and an NXDOMAIN mix.
# Rounds alternate the two servers; it prints, per round and as medians:
# QPS at full load, server CPU per query (from /proc), p99 latency at a
# fixed 20k qps, RSS, and the gslbd/gdnsd ratios.
#
# Usage: bench/compare.sh [seconds per run] [rounds] [clients]
# Needs gdnsd and dnsperf (installed here with apt-get when missing, as
# `make bench-deps` does). Binds 127.0.0.1 only.
#
# bench/compare.sh protection [seconds per run] [rounds] [clients] measures
# instead what RRL and DNS cookies cost gslbd's fast path (plain, RRL on,
# cookie, RRL + cookie...; QPS and CPU per query): bench/protection.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = protection ]; then
	shift
	exec bench/protection.sh "$@"
fi
secs=${1:-10}
rounds=${2:-3}
clients=${3:-4}

need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v gdnsd >/dev/null || [ -x /usr/sbin/gdnsd ] || need+=(gdnsd)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${need[@]}" >&2
fi
GDNSD=$(command -v gdnsd || echo /usr/sbin/gdnsd)

. bench/lib.sh # after the cd above: paths are from the repository root

freeport() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
mmdb=$PWD/cmd/gslbd/devdata/GeoIP2-City-Test.mmdb

# gslbd: the -dev node (gslb.test with www, app nearest over three
# simulated ready regions, the embedded City test database).
go build -o "$tmp/gslbd" ./cmd/gslbd
gport=$(freeport)
"$tmp/gslbd" -dev -dns "127.0.0.1:$gport" -http 127.0.0.1:0 -log-level warn >"$tmp/gslbd.log" 2>&1 &
gpid=$!
pids+=("$gpid")

# gdnsd: the same names; app by the geoip plugin with the same regions'
# coordinates and the same database.
dport=$(freeport)
mkdir -p "$tmp/gdnsd/zones" "$tmp/gdnsd/run" "$tmp/gdnsd/state"
cat >"$tmp/gdnsd/config" <<EOF
options => {
  listen => [ 127.0.0.1:$dport ]
  run_dir => $tmp/gdnsd/run
  state_dir => $tmp/gdnsd/state
  udp_threads => $(nproc)
  tcp_threads => 1
}
plugins => {
  geoip => {
    maps => {
      dev => {
        geoip2_db => $mmdb
        datacenters => [us-east, eu-west, ap-southeast]
        auto_dc_coords => {
          us-east => [39.0, -77.5]
          eu-west => [53.3, -6.3]
          ap-southeast => [1.35, 103.8]
        }
      }
    }
    resources => {
      app => {
        map => dev
        service_types => up
        dcmap => {
          us-east => 192.0.2.10
          eu-west => 198.51.100.10
          ap-southeast => 203.0.113.10
        }
      }
    }
  }
}
EOF
cat >"$tmp/gdnsd/zones/gslb.test" <<'EOF'
$TTL 300
@     SOA ns1 hostmaster 1 3600 600 86400 60
@     NS  ns1
ns1   A   127.0.0.1
www   A   192.0.2.80
mail  A   192.0.2.25
app   30  DYNA geoip!app
EOF
"$GDNSD" -c "$tmp/gdnsd" start >"$tmp/gdnsd.log" 2>&1 &
dpid=$!
pids+=("$dpid")

ready() { # port: wait until www answers
	for _ in $(seq 1 100); do
		dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" www.gslb.test 2>/dev/null | grep -q 192.0.2.80 && return 0
		sleep 0.2
	done
	echo "server on port $1 did not answer; logs:" >&2
	cat "$tmp"/*.log >&2
	exit 1
}
ready "$gport"
ready "$dport"
# gslbd answers app only once its probes found the regions ready.
for _ in $(seq 1 100); do
	dig +short @127.0.0.1 -p "$gport" app.gslb.test +subnet=81.2.69.160/27 | grep -q 198.51.100.10 && break
	sleep 0.2
done

printf 'www.gslb.test A\n' >"$tmp/static"
printf 'app.gslb.test A\n' >"$tmp/gslb"
printf 'www.gslb.test A\napp.gslb.test A\nnope.gslb.test A\nno2.gslb.test AAAA\nmail.gslb.test A\n' >"$tmp/mix"
# ECS options (dnsperf -E code:hex): family 1, source prefix, scope 0, address bytes.
ecs_london=8:00011b00510245a0      # 81.2.69.160/27
ecs_changchun=8:00011800af10c7     # 175.16.199.0/24
ecs_milton=8:00011d00d8a05338      # 216.160.83.56/29

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# run PID PORT FILE [ECS]: prints "qps cpu_us_per_query"
run() {
	local pid=$1 port=$2 file=$3 ecs=${4:-} out c0 c1 done qps
	c0=$(cpu_ticks "$pid")
	out=$(dnsperf -s 127.0.0.1 -p "$port" -d "$file" -l "$secs" -c "$clients" -Q 1000000 -q 500 ${ecs:+-e -E "$ecs"} 2>&1)
	c1=$(cpu_ticks "$pid")
	done=$(awk '/Queries completed:/ {print $3}' <<<"$out")
	qps=$(awk '/Queries per second:/ {printf "%.0f", $4}' <<<"$out")
	awk -v q="$qps" -v n="$done" -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN {printf "%s %.2f\n", q, (n > 0 ? t / hz * 1e6 / n : 0)}'
}

# p99 PORT FILE ECS: p99 latency in microseconds at a fixed 20k qps.
p99() {
	local port=$1 file=$2 ecs=${3:-}
	dnsperf -s 127.0.0.1 -p "$port" -d "$file" -l "$secs" -c "$clients" -Q 20000 -v ${ecs:+-e -E "$ecs"} 2>/dev/null |
		awk '$1 == ">" {print $NF}' | sort -g | awk '{a[NR]=$1} END {if (NR) printf "%.0f\n", a[int(NR*0.99)]*1e6; else print "-"}'
}

# ecsrun PID PORT: the GSLB + ECS load, a third of the time per client city.
ecsrun() {
	local s=$secs r1 r2 r3
	secs=$(((s + 2) / 3))
	r1=$(run "$1" "$2" "$tmp/gslb" "$ecs_london")
	r2=$(run "$1" "$2" "$tmp/gslb" "$ecs_changchun")
	r3=$(run "$1" "$2" "$tmp/gslb" "$ecs_milton")
	secs=$s
	printf '%s\n%s\n%s\n' "$r1" "$r2" "$r3" | awk '{q+=$1; c+=$2} END {printf "%.0f %.2f\n", q/3, c/3}'
}

results=$tmp/results
: >"$results"
for r in $(seq 1 "$rounds"); do
	order="gslbd gdnsd"
	[ $((r % 2)) -eq 0 ] && order="gdnsd gslbd"
	for srv in $order; do
		if [ "$srv" = gslbd ]; then pid=$gpid port=$gport; else pid=$dpid port=$dport; fi
		read -r q c <<<"$(run "$pid" "$port" "$tmp/static")"
		echo "$r $srv static $q $c" >>"$results"
		read -r q c <<<"$(ecsrun "$pid" "$port")"
		echo "$r $srv gslb-ecs $q $c" >>"$results"
		read -r q c <<<"$(run "$pid" "$port" "$tmp/mix")"
		echo "$r $srv nxdomain-mix $q $c" >>"$results"
		echo "$r $srv p99-static $(p99 "$port" "$tmp/static") 0" >>"$results"
		echo "$r $srv p99-gslb-ecs $(p99 "$port" "$tmp/gslb" "$ecs_london") 0" >>"$results"
		echo "$r $srv rss-kb $(rss_kb "$pid") 0" >>"$results"
		echo "round $r $srv done" >&2
	done
done

echo "== per round (round server test value cpu-us/query) =="
cat "$results"
echo
echo "== medians over $rounds rounds; ${secs}s runs, $clients dnsperf clients, $(nproc) CPUs =="
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
val, cpu = {}, {}
for r, srv, test, v, c in rows:
    if v == "-":
        continue
    val.setdefault((srv, test), []).append(float(v))
    cpu.setdefault((srv, test), []).append(float(c))
med = lambda d, k: statistics.median(d[k]) if k in d else float("nan")
print(f"{'test':18} {'gslbd':>10} {'gdnsd':>10} {'ratio':>7}   {'cpu us/q gslbd':>15} {'gdnsd':>7} {'ratio':>6}")
for test in ["static", "gslb-ecs", "nxdomain-mix"]:
    g, d = med(val, ("gslbd", test)), med(val, ("gdnsd", test))
    gc, dc = med(cpu, ("gslbd", test)), med(cpu, ("gdnsd", test))
    print(f"{test + ' qps':18} {g:10.0f} {d:10.0f} {g/d:7.2f}   {gc:15.2f} {dc:7.2f} {gc/dc if dc else float('nan'):6.2f}")
g, d = med(val, ("gslbd", "gslb-ecs")), med(val, ("gdnsd", "static"))
print(f"{'gslb-ecs vs gdnsd static':34} ratio {g/d:.2f}")
for test, unit in [("p99-static", "us"), ("p99-gslb-ecs", "us"), ("rss-kb", "kB")]:
    g, d = med(val, ("gslbd", test)), med(val, ("gdnsd", test))
    print(f"{test + ' ' + unit:18} {g:10.0f} {d:10.0f} {g/d:7.2f}")
PY

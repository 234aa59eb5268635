#!/usr/bin/env bash
# Resident memory of gslbd serving N GSLB names (nearest, E endpoints in as
# many regions) with a GeoIP database, on loopback.
# Usage: bench/rss.sh DB.mmdb [names, default 10000] [E, 1-3, default 1]
# Endpoints have no probes of their own (the config decoder caps a file at
# 100,000 values, which 10k names with probe blocks exceed); memory is what
# is measured, not answers.
set -euo pipefail
cd "$(dirname "$0")/.."
db=$(realpath "$1")
n=${2:-10000}
eps=${3:-1}
tmp=$(mktemp -d)
pid=0
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
freeport() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port=$(freeport)

python3 - "$n" "$port" "$db" "$eps" >"$tmp/gslbd.yaml" <<'PY'
import sys
n, port, db, eps = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
out = [f"""node: rss
listen: {{dns: ["127.0.0.1:{port}"], http: ""}}
health: {{interval: 10s, timeout: 1s}}
geoip: {{databases: ["{db}"]}}
regions:
  - {{name: us-east, latitude: 39.0, longitude: -77.5}}
  - {{name: eu-west, latitude: 53.3, longitude: -6.3}}
  - {{name: ap-southeast, latitude: 1.35, longitude: 103.8}}
zones:
  - apex: gslb.test.
    nameservers: [{{name: ns1, addresses: ["127.0.0.1"]}}]
    soa: {{rname: hostmaster}}
    names:"""]
for i in range(1, n + 1):
    out.append(f"      - name: n{i}\n        endpoints:")
    for region, net in [("us-east", "192.0.2"), ("eu-west", "198.51.100"), ("ap-southeast", "203.0.113")][:eps]:
        out.append(f"          - {{region: {region}, addresses: [\"{net}.{i % 250 + 1}\"]}}")
print("\n".join(out))
PY
go build -o "$tmp/gslbd" ./cmd/gslbd
start=$(date +%s.%N)
"$tmp/gslbd" -config "$tmp/gslbd.yaml" -log-level warn >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
	# An address, not dig's "connection refused" line (also on stdout).
	dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" "n1.gslb.test" 2>/dev/null | grep -qE '^[0-9.]+$' && break
	kill -0 $pid 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
	sleep 0.1
done
ready=$(date +%s.%N)
sleep 3 # let the first probe round and a GC pass settle
echo "names=$n endpoints/name=$eps db=$(basename "$db") first answer after $(awk "BEGIN{print $ready - $start}") s"
grep -E '^(VmRSS|VmHWM)' "/proc/$pid/status"

#!/usr/bin/env bash
# Failover convergence on loopback, interval 1s, fall 2 (fast_interval
# 250ms, the default quarter of the interval), 10 rounds each:
#  1. Three and five real gslbd processes (probing a loopback backend,
#     gossiping encrypted): the backend's death -> the last node stops
#     answering it, and its return -> every node answers it again; median
#     and worst in ms. This includes detection and is the number to quote.
#  2. Five memberlist nodes in one process: from every node observing the
#     endpoint down until every node's agreed View says so (gossip only).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-10}
go test -run '^$' -bench 'BenchmarkFailoverConvergence$' -benchtime "${rounds}x" -timeout 30m ./cmd/gslbd/
go test -run '^$' -bench 'BenchmarkFailoverConvergence5' -benchtime "${rounds}x" ./cluster/

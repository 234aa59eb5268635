#!/usr/bin/env bash
# Failover convergence with 5 nodes on loopback, interval 1s, fall 2.
# Target: under 2 s from an endpoint's death until no node answers it.
#  1. Five real gslbd processes (probing a loopback backend, gossiping
#     encrypted): death of the backend -> last node stops answering it.
#     This includes detection (fall x interval) and is the number to quote.
#  2. Five memberlist nodes in one process: from every node observing the
#     endpoint down until every node's agreed View says so (gossip only).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'BenchmarkFailoverConvergence5Processes' -benchtime 5x ./cmd/gslbd/
go test -run '^$' -bench 'BenchmarkFailoverConvergence5' -benchtime 5x ./cluster/

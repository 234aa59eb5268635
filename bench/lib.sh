# Shared by the bench scripts (sourced, not run): a temporary directory
# and the processes started into it, both removed on exit. Scripts append
# the PIDs they start to pids.
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

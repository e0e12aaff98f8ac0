#!/usr/bin/env bash
# Runs the official MCP conformance suite against `attest serve --http` on a demo tenant, for
# both protocol eras (2025-11-25: initialize and sessions; 2026-07-28: stateless requests).
#   1. the production server (no fixtures): every scenario that needs no fixture, both eras;
#   2. the same server with --conformance-fixtures (the suite's test_* tools, test:// resources
#      and test_* prompts, registered through Attest's own pipeline and audit): each era's full
#      requirement set, with conformance-expected-failures.yml naming what Attest does not serve.
# Expects a built dist/. The suite's CLI needs Node >= 22 for one import; on Node 20 the hook in
# scripts/conformance-node20 supplies it.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

conformance() {
  NODE_OPTIONS="--import ./scripts/conformance-node20/register.mjs" \
    node node_modules/@modelcontextprotocol/conformance/dist/index.js server "$@"
}

# Starts `attest serve --http 0` with the given flags; sets $url (localhost, for dns-rebinding-protection).
start_server() {
  : >"$work/serve.out"
  # Loopback only, no bearer tokens: the suite's client cannot send one.
  node dist/cli.js serve --db "$work/conformance.db" --http 0 --insecure-no-auth "$@" \
    >"$work/serve.out" 2>"$work/serve.err" &
  server_pid=$!
  url=
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^Attest MCP endpoint: //p' "$work/serve.out" | head -n 1)
    [ -n "$url" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/serve.err" >&2; exit 1; fi
    sleep 0.1
  done
  [ -n "$url" ] || { echo "server did not start" >&2; cat "$work/serve.err" >&2; exit 1; }
  url=${url/127.0.0.1/localhost}
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

node dist/cli.js demo --db "$work/conformance.db" --users 300 --dir "$work/snapshot" >/dev/null

echo "== production server (no fixtures): scenarios that need none"
start_server
failed=0
for era in 2025-11-25 2026-07-28; do
  if [ "$era" = 2025-11-25 ]; then
    scenarios="server-initialize ping logging-set-level tools-list resources-list prompts-list server-sse-multiple-streams server-session-lifecycle dns-rebinding-protection"
  else
    scenarios="tools-list resources-list prompts-list server-sse-multiple-streams caching sep-2164-resource-not-found dns-rebinding-protection"
  fi
  for scenario in $scenarios; do
    if out=$(conformance --url "$url" --scenario "$scenario" --spec-version "$era" 2>&1) &&
      grep -q ', 0 failed' <<<"$out"; then
      echo "✓ $era $scenario: $(grep -E '^Passed:' <<<"$out" | head -n 1)"
    else
      echo "✗ $era $scenario"
      echo "$out" | grep -E 'FAILURE|Error' | head -n 20
      failed=1
    fi
  done
done
stop_server
[ "$failed" = 0 ] || { echo "production server: conformance failures" >&2; exit 1; }

for era in 2025-11-25 2026-07-28; do
  echo "== $era requirement set, with the suite's fixtures"
  start_server --conformance-fixtures
  conformance --url "$url" --requirements "$era" --expected-failures conformance-expected-failures.yml |
    sed -n '/^=== SUMMARY ===/,$p'
  stop_server
done

#!/usr/bin/env bash
# Runs the official MCP conformance suite against `attest serve --http` on a demo tenant.
# Expects a built dist/. Scenarios that need fixtures are listed in conformance-expected-failures.yml.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

node dist/cli.js demo --db "$work/conformance.db" --users 300 --dir "$work/snapshot" >/dev/null
# Loopback only, no bearer tokens: the suite's client cannot send one.
node dist/cli.js serve --db "$work/conformance.db" --http 0 --insecure-no-auth >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^Attest MCP endpoint: //p' "$work/serve.out" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/serve.err" >&2; exit 1; fi
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start" >&2; cat "$work/serve.err" >&2; exit 1; }
# dns-rebinding-protection only runs against a localhost URL.
url=${url/127.0.0.1/localhost}

NODE_OPTIONS="--import ./scripts/conformance-node20/register.mjs" \
  node node_modules/@modelcontextprotocol/conformance/dist/index.js server \
  --url "$url" --expected-failures conformance-expected-failures.yml

#!/usr/bin/env bash
# The README's Serving commands on this checkout: `npx gpt-cuda serve` (the bundled model), the
# curl example and examples/openai-client.mjs against it, then SIGTERM and a clean exit. Ends
# with one PASS or FAIL line.
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
step="start"
pid=""
finish() {
  local rc=$?
  [ -z "$pid" ] || kill -KILL -- "-$pid" 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then echo "serve-smoke: PASS"; else echo "serve-smoke: FAIL (at: $step); the server said:" >&2; sed 's/^/  | /' "$log" >&2; fi
  rm -f "$log"
}
trap finish EXIT

step="npx gpt-cuda serve"
# Its own process group: npx does not pass signals on to the server, so the group gets them.
setsid npx gpt-cuda serve --port 8089 --log-level warn 2>"$log" &
pid=$!
for _ in $(seq 1 300); do grep -q "serving" "$log" && break; sleep 0.1; done
grep -q "serving default on .* at http://127.0.0.1:8089" "$log"

step="curl"
curl -sf http://127.0.0.1:8089/v1/completions -H "Content-Type: application/json" \
  -d '{"model": "default", "prompt": "The old man said", "max_tokens": 16}' | sed 's/^/  | /'
echo

step="examples/openai-client.mjs"
OPENAI_BASE_URL=http://127.0.0.1:8089/v1 node examples/openai-client.mjs | sed 's/^/  | /'


step="SIGTERM"
# npx itself dies of the signal; the server drains, says "stopped" and exits 0.
kill -TERM -- "-$pid"
wait "$pid" || true
for _ in $(seq 1 100); do grep -q "stopped" "$log" && break; sleep 0.1; done
grep -q "gpt-cuda: stopped" "$log"
pid=""

#!/usr/bin/env bash
# Runs the replay Lambda under the real Lambda runtime loop (`cargo lambda watch`, the
# Runtime API emulator) against the moto server and invokes it with
# events/samples/replay-request.json: a cold invoke (fresh watch) and a warm one, each
# timed, and a malformed payload that must be refused.
#
#   bash infra/lambda/invoke.sh
#
# Builds for the host (x86_64, debug: the arm64 build cannot run on this machine). Needs
# the moto server (bash infra/local/stack.sh; ENCORE_TEST_AWS_ENDPOINT, default
# http://127.0.0.1:5055). Creates uniquely named queues on moto and deletes them at exit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=infra/lambda/common.sh
source infra/lambda/common.sh

function=replay
sample=events/samples/replay-request.json
endpoint="${ENCORE_TEST_AWS_ENDPOINT:-http://127.0.0.1:5055}"
dead_letters=3

ensure_cargo_lambda
work="$(mktemp -d)"
watch_pid=""
queues=()

# SQS's query API on moto with curl (moto picks the service from the credential scope).
sqs() {
  curl -sf -X POST "$endpoint/" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0" \
    "$@"
}
create_queue() {
  local url
  url=$(sqs -d Action=CreateQueue -d "QueueName=$1" | sed -n 's:.*<QueueUrl>\(.*\)</QueueUrl>.*:\1:p')
  [ -n "$url" ] || { echo "could not create queue $1 on $endpoint (is moto running? bash infra/local/stack.sh)" >&2; exit 1; }
  queues+=("$url")
  echo "$url"
}
cleanup() {
  if [ -n "$watch_pid" ]; then
    kill -- "-$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
  fi
  for url in "${queues[@]}"; do
    sqs -d Action=DeleteQueue --data-urlencode "QueueUrl=$url" >/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

run_id="invoke-$$-$(date +%s)"
ingest=$(create_queue "$run_id-ingest")
ingest_dlq=$(create_queue "$run_id-ingest-dlq")
lake=$(create_queue "$run_id-lake")
lake_dlq=$(create_queue "$run_id-lake-dlq")
for i in $(seq "$dead_letters"); do
  sqs -d Action=SendMessage --data-urlencode "QueueUrl=$ingest_dlq" \
    --data-urlencode "MessageBody={\"detail-type\":\"ArtistRequested\",\"source\":\"encore.chat\",\"detail\":{\"version\":1,\"query\":\"artist $i\"}}" >/dev/null
done

echo "building $function for the host"
cargo build --quiet -p "$(package_of "$function")" --bin "$function"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid cargo lambda watch --quiet --ignore-changes -p "$(package_of "$function")" --bin "$function" \
  --invoke-address 127.0.0.1 --invoke-port "$port" \
  --env-var "AWS_ENDPOINT_URL=$endpoint,AWS_REGION=us-east-1,AWS_ACCESS_KEY_ID=test,AWS_SECRET_ACCESS_KEY=test" \
  --env-var "INGEST_QUEUE_URL=$ingest,INGEST_DLQ_URL=$ingest_dlq,LAKE_QUEUE_URL=$lake,LAKE_DLQ_URL=$lake_dlq" \
  >"$work/watch.log" 2>&1 &
watch_pid=$!
for _ in $(seq 300); do
  if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$watch_pid" 2>/dev/null || { cat "$work/watch.log" >&2; exit 1; }
  sleep 0.2
done

invoke() {
  cargo lambda invoke "$function" --invoke-address 127.0.0.1 --invoke-port "$port" "$@"
}
check_answer() {
  python3 - "$1" "$dead_letters" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
expected = int(sys.argv[2])
assert answer["queue"] == "ingest" and answer["dry_run"] is True, answer
assert answer["count"] == expected, f"expected {expected} dead letters listed: {answer}"
assert all(m["event"] == "ArtistRequested" and m["new_id"] is None for m in answer["messages"]), answer
PY
}

start=$(now_ms)
invoke --data-file "$sample" >"$work/cold.json"
cold=$(( $(now_ms) - start ))
check_answer "$work/cold.json"

start=$(now_ms)
invoke --data-file "$sample" >"$work/warm.json"
warm=$(( $(now_ms) - start ))
check_answer "$work/warm.json"

if invoke --data-ascii '{"queue":"ingets","dry_run":true}' >"$work/bad.json" 2>&1; then
  echo "a payload naming an unknown queue was accepted: $(cat "$work/bad.json")" >&2
  exit 1
fi
grep -q "unknown variant" "$work/bad.json" || { echo "unexpected refusal: $(cat "$work/bad.json")" >&2; exit 1; }

echo "answer: $(cat "$work/warm.json")"
echo "refused: $(tr -s '\n' ' ' <"$work/bad.json")"
printf '%-10s %-28s %10s %10s\n' function sample "cold ms" "warm ms"
printf '%-10s %-28s %10d %10d\n' "$function" "$(basename "$sample")" "$cold" "$warm"

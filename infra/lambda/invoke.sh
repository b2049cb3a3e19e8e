#!/usr/bin/env bash
# Runs each Lambda of infra/template.yaml under the real Lambda runtime loop
# (`cargo lambda watch`, the Runtime API emulator) against the local test stack, invokes it
# with a sample event from events/samples (`cargo lambda invoke`), checks every answer is
# the one that function must give, and prints one table, in ms:
#   cold  the first invoke after a fresh watch, which starts the function with `cargo run`
#         (process start and init included, and cargo's build check);
#   warm  the next invoke on the same process;
#   bare  the cold invoke again with the built binary started directly against the
#         emulator's Runtime API (`cargo lambda watch --only-lambda-apis`), as Lambda
#         starts `bootstrap`: no cargo in the time.
#
#   bash infra/lambda/invoke.sh [function ...]     (default: every function)
#
# Builds for the host (x86_64, debug: the arm64 release build cannot run on this machine).
# Needs the test stack (bash infra/local/stack.sh): the moto server at
# ENCORE_TEST_AWS_ENDPOINT (default http://127.0.0.1:5055) and MariaDB at
# ENCORE_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/encore_test), with the
# mariadb (or mysql) client. Each cold start gets a fresh database with the schema in
# place, as the deploy's migrate step leaves it (the functions only check it), dropped at
# exit; the migrate function itself answers CloudFormation and is tested by
# services/migrate/tests, not here; the moto resources are uniquely named and deleted at exit. They
# are made with boto3 from the stack's virtualenv (.venv/stack), or from .venv/lambda where
# boto3 is installed when the stack's has none. As in AWS, the skill, Spotify and database
# secrets are read from Secrets Manager (moto) at cold start.
#
# What is invoked and checked, per function:
#   chat        apigw-v2-skill-request.json, the skill secret = the sample's header: 200
#               and the looking-up text for the unknown artist; exactly one ArtistRequested
#               reaches a queue the bus routes it to per database (the warm ask is within
#               the claim window).
#   ingest      sqs-batch-artist-requested.json with detail version 2: both messages are
#               refused by id before any Spotify call (the Lambda's Spotify client has no
#               base-URL setting, and nothing here may reach the internet).
#   lake        sqs-batch-artist-ingested.json: no failures, Parquet under top-tracks/ in
#               the bucket, and every later invoke (a retry) overwrites rather than adds.
#   similarity  similarity-requested.json in an EventBridge envelope: a real run, Athena on
#               moto (results seeded in an account of the run's own) into MariaDB; and an
#               ArtistIngested envelope refused as UnsupportedTrigger.
#   replay      replay-request.json: the dead letters of the ingest DLQ listed (dry run); a
#               payload naming an unknown queue refused.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=infra/lambda/common.sh
source infra/lambda/common.sh

functions=("$@")
if [ ${#functions[@]} -eq 0 ]; then
  for function in "${FUNCTIONS[@]}"; do
    [ "$function" = migrate ] || functions+=("$function")
  done
fi
for function in "${functions[@]}"; do
  package_of "$function" >/dev/null
  [ "$function" != migrate ] ||
    { echo "migrate answers CloudFormation custom resources: cargo nextest run -p encore-migrate" >&2; exit 1; }
done

endpoint="${ENCORE_TEST_AWS_ENDPOINT:-http://127.0.0.1:5055}"
mysql_url="${ENCORE_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/encore_test}"
region=us-east-1
# Seconds an invoke may take before the run fails (a cold one waits for `cargo run`).
invoke_timeout=120
# The replay sample's dead letters; the similarity run's artists (more than its K = 10).
dead_letters=3
profiled_artists=12
similar_per_artist=10

run_id="invoke-$$-$(date +%s)"
work="$(mktemp -d)"
ledger="$work/moto-ledger.jsonl"
watch_pid=""
watch_log=""
watch_port=""
function_pid=""
function_log=""
mode=""
databases=()
rows=()
current=""

fail() {
  echo "invoke.sh: ${current:+$current: }$*" >&2
  exit 1
}

# At exit, whatever happened: the emulator and function processes, the moto resources of
# the ledger, the databases and the work directory (the helpers are defined below).
cleanup() {
  local status=$?
  if declare -F stop_emulator >/dev/null; then stop_emulator; fi
  if declare -F moto >/dev/null; then moto teardown || true; fi
  for name in "${databases[@]}"; do
    mysql -e "DROP DATABASE IF EXISTS \`$name\`" || echo "could not drop database $name" >&2
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# ------------------------------------------------------------------ tools

ensure_cargo_lambda

# A Python with boto3: the moto server's own virtualenv when it has one, else .venv/lambda.
aws_python="$root/.venv/stack/bin/python"
if ! "$aws_python" -c 'import boto3' 2>/dev/null; then
  aws_python="$root/$LAMBDA_VENV/bin/python"
  "$aws_python" -c 'import boto3' 2>/dev/null || "$LAMBDA_VENV/bin/pip" install --quiet boto3
fi

mysql_client="$(command -v mariadb || command -v mysql || true)"
[ -n "$mysql_client" ] || fail "needs the mariadb (or mysql) client: bash infra/local/stack.sh installs it"

# The moto resources of the run, made and removed with boto3. Every resource made is
# appended to the ledger (with the credentials of its account), and `teardown` removes
# them in reverse order, so a failure halfway still leaves nothing behind.
cat >"$work/moto.py" <<'PY'
import json, os, sys, urllib.request

import boto3

endpoint, ledger, command, *args = sys.argv[1:]
REGION = "us-east-1"
CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def current_credentials():
    found = {k: os.environ[k] for k in CREDENTIAL_KEYS if os.environ.get(k)}
    return found or {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def client(service, credentials=None):
    c = credentials or current_credentials()
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=c["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=c["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=c.get("AWS_SESSION_TOKEN"),
    )


def record(kind, **fields):
    with open(ledger, "a") as out:
        out.write(json.dumps({"kind": kind, "credentials": current_credentials(), **fields}) + "\n")


def queue(name):
    url = client("sqs").create_queue(QueueName=name)["QueueUrl"]
    record("queue", url=url)
    print(url)


def send(url, body):
    client("sqs").send_message(QueueUrl=url, MessageBody=body)


def receive(url):
    """Every message of the queue, taken off it."""
    sqs, bodies = client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            break
        bodies += [json.loads(m["Body"]) for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    print(json.dumps(bodies))


def table(name):
    client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "artist_id", "AttributeType": "S"},
            {"AttributeName": "rank", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "artist_id", "KeyType": "HASH"},
            {"AttributeName": "rank", "KeyType": "RANGE"},
        ],
    )
    record("table", name=name)


def bus(name):
    client("events").create_event_bus(Name=name)
    record("bus", name=name)


def tap(bus_name, queue_url, detail_type):
    """Routes `detail_type` events on the bus to the queue, as the template's rules do."""
    arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events, rule = client("events"), f"{bus_name}-{detail_type}"
    events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps({"detail-type": [detail_type]}))
    record("rule", name=rule, bus=bus_name)
    events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "tap", "Arn": arn}])


def secret(name, value):
    arn = client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
    record("secret", arn=arn)
    print(arn)


def bucket(name):
    client("s3").create_bucket(Bucket=name)
    record("bucket", name=name)


def keys(bucket_name, prefix):
    pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket_name, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            print(item["Key"])


def account(number):
    """Credentials of a moto account of the run's own (moto maps an assumed role's keys
    to the role's account), printed as an env file."""
    got = client("sts").assume_role(RoleArn=f"arn:aws:iam::{number}:role/encore-invoke", RoleSessionName="invoke")
    c = got["Credentials"]
    print(f"AWS_ACCESS_KEY_ID={c['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={c['SecretAccessKey']}\nAWS_SESSION_TOKEN={c['SessionToken']}")


def seed_profiles(number, artists, times):
    """Queues `times` Athena results in the account: one profile row per artist, features
    spread so that no two artists coincide."""
    features = ["danceability", "energy", "loudness", "speechiness", "acousticness",
                "instrumentalness", "liveness", "valence", "tempo"]
    columns = ["artist_id", "track_count"] + features
    kind = {"artist_id": "varchar", "track_count": "bigint"}
    info = [{"Name": c, "Label": c, "Type": kind.get(c, "double"), "Nullable": "UNKNOWN", "CaseSensitive": False}
            for c in columns]
    rows = [{"Data": [{"VarCharValue": c} for c in columns]}]
    for n in range(int(artists)):
        values = [f"invoke-artist-{n:02}", "3"] + [str(((n * 37 + i * 11 + n * n * i) % 53) / 8 + i) for i in range(9)]
        rows.append({"Data": [{"VarCharValue": v} for v in values]})
    body = {"account_id": number, "region": REGION,
            "results": [{"rows": rows, "column_info": info} for _ in range(int(times))]}
    request = urllib.request.Request(f"{endpoint}/moto-api/static/athena/query-results",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        if response.status != 201:
            sys.exit(f"moto refused the seeded Athena results: {response.status}")


def teardown():
    if not os.path.exists(ledger):
        return
    with open(ledger) as lines:
        made = [json.loads(line) for line in lines if line.strip()]
    for item in reversed(made):
        c, kind = item["credentials"], item["kind"]
        try:
            if kind == "queue":
                client("sqs", c).delete_queue(QueueUrl=item["url"])
            elif kind == "table":
                client("dynamodb", c).delete_table(TableName=item["name"])
            elif kind == "rule":
                events = client("events", c)
                targets = events.list_targets_by_rule(Rule=item["name"], EventBusName=item["bus"])["Targets"]
                if targets:
                    events.remove_targets(Rule=item["name"], EventBusName=item["bus"], Ids=[t["Id"] for t in targets])
                events.delete_rule(Name=item["name"], EventBusName=item["bus"])
            elif kind == "secret":
                client("secretsmanager", c).delete_secret(SecretId=item["arn"], ForceDeleteWithoutRecovery=True)
            elif kind == "bus":
                client("events", c).delete_event_bus(Name=item["name"])
            elif kind == "bucket":
                s3 = client("s3", c)
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=item["name"]):
                    for obj in page.get("Contents", []):
                        s3.delete_object(Bucket=item["name"], Key=obj["Key"])
                s3.delete_bucket(Bucket=item["name"])
        except Exception as err:  # keep removing the rest; say what was left
            print(f"could not remove {kind} {item.get('name') or item.get('url') or item.get('arn')}: {err}", file=sys.stderr)


commands = {"queue": queue, "send": send, "receive": receive, "table": table, "bus": bus, "tap": tap,
            "secret": secret, "bucket": bucket, "keys": keys, "account": account, "seed-profiles": seed_profiles,
            "teardown": teardown}
commands[command](*args)
PY

moto() {
  "$aws_python" "$work/moto.py" "$endpoint" "$ledger" "$@"
}

# ------------------------------------------------------------------ MariaDB

# user, password ("-" for none), host and port of ENCORE_TEST_MYSQL_URL.
read -r db_user db_password db_host db_port < <(python3 - "$mysql_url" <<'PY'
import sys
from urllib.parse import unquote, urlsplit
url = urlsplit(sys.argv[1])
print(unquote(url.username or "root"), unquote(url.password or "") or "-", url.hostname or "127.0.0.1", url.port or 3306)
PY
)
[ "$db_password" = "-" ] && db_password=""

mysql() {
  MYSQL_PWD="$db_password" "$mysql_client" --protocol=tcp -h "$db_host" -P "$db_port" -u "$db_user" "$@"
}

# A fresh database for one function: its name in $database_name, its URL on
# ENCORE_TEST_MYSQL_URL's server without credentials in $database_url (they come from the
# secret of database_secret, as in AWS). Not for a command substitution: the name must
# reach the cleanup.
fresh_database() {
  local name="encore_${run_id//-/_}_$1"
  mysql -e "CREATE DATABASE \`$name\`" ||
    fail "cannot create database $name at $db_host:$db_port (is MariaDB running? bash infra/local/stack.sh)"
  databases+=("$name")
  migrate_database "$name"
  database_name=$name
  database_url=$(python3 - "$mysql_url" "$name" <<'PY2'
import sys
from urllib.parse import urlsplit, urlunsplit
url = urlsplit(sys.argv[1])
print(urlunsplit(url._replace(netloc=url.netloc.rpartition("@")[2], path="/" + sys.argv[2])))
PY2
)
}

# The schema in database $1 as the migrate step leaves it: each migration of
# shared/store/migrations/mysql applied and recorded in sqlx's _sqlx_migrations (version
# and success are what the functions check).
migrate_database() {
  local file version
  mysql "$1" -e "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)" || fail "cannot create _sqlx_migrations in $1"
  for file in shared/store/migrations/mysql/*.sql; do
    version=$(basename "$file")
    version=${version%%_*}
    mysql "$1" <"$file" || fail "migration $file failed on $1"
    mysql "$1" -e "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
      VALUES ($((10#$version)), '$(basename "$file" .sql)', TRUE, X'00', 0)" || fail "cannot record $file"
  done
}

# A Secrets Manager secret with the user and password of ENCORE_TEST_MYSQL_URL in the
# shape of an RDS credentials secret, in the account of the current credentials; its ARN
# is printed.
database_secret() {
  moto secret "$1" "$(python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' "$db_user" "$db_password")"
}

# ------------------------------------------------------------------ processes

# Every descendant of a process, deepest first (watchexec may start the function in a
# process group of its own, so killing the watch's group alone could leave it running).
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    descendants "$child"
    echo "$child"
  done
}

# kill_tree PID [GROUP]: ends a process started here and everything it started.
kill_tree() {
  local pids
  pids=$(descendants "$1")
  [ -z "${2:-}" ] || kill -- "-$1" 2>/dev/null || true
  # shellcheck disable=SC2086
  kill "$1" $pids 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

stop_emulator() {
  if [ -n "$function_pid" ]; then
    kill_tree "$function_pid"
    function_pid=""
  fi
  if [ -n "$watch_pid" ]; then
    kill_tree "$watch_pid" group
    watch_pid=""
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Variables of the caller's shell that would change what a function does.
unset_args=(-u DATABASE_URL -u DATABASE_SECRET_ARN -u ENCORE_SKILL_SECRET -u ENCORE_SKILL_SECRET_ARN
  -u SPOTIFY_CLIENT_SECRET -u SPOTIFY_CLIENT_SECRET_ARN -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_LAMBDA_FUNCTION_NAME -u AWS_LAMBDA_RUNTIME_API)

# start_emulator FUNCTION MODE: a fresh `cargo lambda watch`, waited for until it listens.
#   cargo-run  the watch starts the function (`cargo run`) on the first invoke, with the
#              function's env file;
#   bare       the Runtime API only (--only-lambda-apis): the cold invoke starts the built
#              binary itself, as Lambda starts `bootstrap`, without cargo's build check.
start_emulator() {
  local function=$1 mode=$2 how=()
  watch_port=$(free_port)
  watch_log="$work/$function.$mode.watch.log"
  if [ "$mode" = cargo-run ]; then
    how=(--ignore-changes -p "$(package_of "$function")" --bin "$function" --env-file "$work/$function.$mode.env")
  else
    how=(--only-lambda-apis)
  fi
  setsid env "${unset_args[@]}" cargo lambda watch --quiet "${how[@]}" \
    --invoke-address 127.0.0.1 --invoke-port "$watch_port" >"$watch_log" 2>&1 &
  watch_pid=$!
  for _ in $(seq 300); do
    if (echo >"/dev/tcp/127.0.0.1/$watch_port") 2>/dev/null; then return; fi
    kill -0 "$watch_pid" 2>/dev/null || fail "cargo lambda watch exited: $(cat "$watch_log")"
    sleep 0.2
  done
  fail "cargo lambda watch did not listen on port $watch_port within 60 s: $(cat "$watch_log")"
}

# Starts the built binary against a bare emulator with the function's variables and the
# AWS_LAMBDA_* ones the emulator printed; a marker file tells when it has exited.
start_binary() {
  local function=$1 vars=() runtime=()
  mapfile -t vars <"$work/$function.bare.vars"
  mapfile -t runtime < <(grep -oE 'AWS_LAMBDA_[A-Z_]+=[^[:space:]]+' "$watch_log")
  [ ${#runtime[@]} -gt 0 ] || fail "the emulator printed no AWS_LAMBDA_* variables: $(cat "$watch_log")"
  function_log="$work/$function.bare.function.log"
  rm -f "$work/$function.exited"
  (
    env "${unset_args[@]}" "${vars[@]}" "${runtime[@]}" "$target_dir/debug/$function" >"$function_log" 2>&1
    echo $? >"$work/$function.exited"
  ) &
  function_pid=$!
}

# True when the function under test has exited (it should run until stopped).
function_exited() {
  if [ "$mode" = cargo-run ]; then
    grep -q "command exited" "$watch_log"
  else
    [ -e "$work/$current.exited" ]
  fi
}

function_output() {
  if [ "$mode" = cargo-run ]; then cat "$watch_log"; else cat "$function_log"; fi
}

now_us() { echo "${EPOCHREALTIME/./}"; }

# invoke DATA_FILE OUT [start]: one `cargo lambda invoke`, its wall time in $elapsed_ms
# (with `start`, the bare binary is started inside that time). Answers land in OUT,
# errors in OUT.err. A function that dies (e.g. at init) would leave the invoke waiting:
# a watchdog ends it then, or after $invoke_timeout seconds.
invoke() {
  local data=$1 out=$2 started invoke_pid dog status=0 name=$current
  [ "$mode" = bare ] && name=_
  started=$(now_us)
  if [ "${3:-}" = start ] && [ "$mode" = bare ]; then
    start_binary "$current"
  fi
  cargo lambda invoke "$name" --invoke-address 127.0.0.1 --invoke-port "$watch_port" \
    --data-file "$data" >"$out" 2>"$out.err" &
  invoke_pid=$!
  (
    deadline=$((SECONDS + invoke_timeout))
    while kill -0 "$invoke_pid" 2>/dev/null; do
      if function_exited || [ $SECONDS -ge $deadline ]; then
        kill "$invoke_pid" 2>/dev/null
        break
      fi
      sleep 0.2
    done
  ) &
  dog=$!
  wait "$invoke_pid" || status=$?
  elapsed_ms=$(( ($(now_us) - started) / 1000 ))
  kill "$dog" 2>/dev/null || true
  wait "$dog" 2>/dev/null || true
  function_exited && fail "the function exited ($mode): $(function_output)"
  return "$status"
}

# timed_invoke DATA_FILE OUT [start]: an invoke that must succeed.
timed_invoke() {
  invoke "$@" || fail "invoke with $1 failed after ${elapsed_ms} ms ($mode): $(cat "$2.err" "$2")
function output:
$(function_output)"
}

# check SCRIPT ANSWER ARGS...: runs a Python check on an answer; fails naming the function.
check() {
  local script=$1 answer=$2
  shift 2
  python3 - "$answer" "$@" <<<"$script" || fail "unexpected answer ($mode): $(cat "$answer")"
}

# write_vars FUNCTION MODE: the function's variables for one mode (a fresh database each,
# so every cold start checks one), as KEY=VALUE lines for the bare binary and as the
# env file of `cargo lambda watch --env-file`, each value single-quoted there
# (credentials hold `+/=`).
write_vars() {
  local function=$1 mode=$2 vars="$work/$1.$2.vars"
  cp "$work/$function.vars" "$vars"
  if [ "$needs_database" = yes ]; then
    fresh_database "${function}_${mode//-/_}"
    echo "DATABASE_URL=$database_url" >>"$vars"
  fi
  sed "s/=/='/; s/\$/'/" "$vars" >"$work/$function.$mode.env"
}

common_env() {
  printf '%s\n' "AWS_ENDPOINT_URL=$endpoint" "AWS_REGION=$region" \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
}

# ------------------------------------------------------------------ chat

chat_sample=events/samples/apigw-v2-skill-request.json
setup_chat() {
  local secret table bus skill_arn database_arn
  secret=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["headers"]["x-encore-skill-secret"])' "$chat_sample")
  table="$run_id-top_tracks"
  bus="$run_id-chat-bus"
  moto table "$table" || fail "cannot create DynamoDB table $table on $endpoint (is moto running? bash infra/local/stack.sh)"
  moto bus "$bus" || fail "cannot create event bus $bus on $endpoint"
  chat_tap=$(moto queue "$run_id-chat-requested") || fail "cannot create queue $run_id-chat-requested"
  moto tap "$bus" "$chat_tap" ArtistRequested || fail "cannot route ArtistRequested on $bus to a queue"
  skill_arn=$(moto secret "$run_id-chat-skill" "$secret") || fail "cannot create the skill secret on $endpoint"
  database_arn=$(database_secret "$run_id-chat-database") || fail "cannot create the database secret on $endpoint"
  needs_database=yes
  {
    common_env
    echo "TOP_TRACKS_TABLE=$table"
    echo "EVENT_BUS_NAME=$bus"
    echo "ENCORE_SKILL_SECRET_ARN=$skill_arn"
    echo "DATABASE_SECRET_ARN=$database_arn"
  } >"$work/chat.vars"
  event="$chat_sample"
  sample_label="$(basename "$chat_sample")"
  checked="200, looking-up text; 1 ArtistRequested on the bus"
}
check_chat() {
  check '
import json, sys
answer = json.load(open(sys.argv[1]))
assert answer["statusCode"] == 200, answer
body = json.loads(answer["body"])
text = body["template"]["outputs"][0]["simpleText"]["text"]
expected = "'"'"'BTS'"'"' 아티스트를 찾아보고 있어요. 잠시 후 다시 물어봐 주세요."
assert text == expected, f"not the looking-up text: {text!r}"
' "$1"
}
finish_chat() {
  moto receive "$chat_tap" >"$work/chat-requested.json" || fail "cannot read the ArtistRequested queue"
  check '
import json, sys
events = json.load(open(sys.argv[1]))
sample = json.load(open(sys.argv[2]))
user = json.loads(sample["body"])["userRequest"]["user"]["id"]
assert len(events) == 1, f"expected one ArtistRequested (the warm ask is within the claim window), got {len(events)}"
event = events[0]
assert event["detail-type"] == "ArtistRequested" and event["source"] == "encore.chat", event
assert event["detail"]["query"] == "BTS" and event["detail"]["requested_by"] == user, event
' "$work/chat-requested.json" "$chat_sample"
}

# ------------------------------------------------------------------ ingest

ingest_sample=events/samples/sqs-batch-artist-requested.json
setup_ingest() {
  local table="$run_id-ingest-top_tracks" bus="$run_id-ingest-bus" spotify_arn database_arn
  moto table "$table" || fail "cannot create DynamoDB table $table on $endpoint (is moto running? bash infra/local/stack.sh)"
  moto bus "$bus" || fail "cannot create event bus $bus on $endpoint"
  spotify_arn=$(moto secret "$run_id-ingest-spotify" invoke-not-a-secret) || fail "cannot create the Spotify secret on $endpoint"
  database_arn=$(database_secret "$run_id-ingest-database") || fail "cannot create the database secret on $endpoint"
  needs_database=yes
  {
    common_env
    echo "TOP_TRACKS_TABLE=$table"
    echo "EVENT_BUS_NAME=$bus"
    echo "SPOTIFY_CLIENT_ID=invoke-not-a-client"
    echo "SPOTIFY_CLIENT_SECRET_ARN=$spotify_arn"
    echo "DATABASE_SECRET_ARN=$database_arn"
  } >"$work/ingest.vars"
  # The sample with every message's detail at version 2: refused before Spotify is asked.
  event="$work/ingest-event.json"
  python3 - "$ingest_sample" "$event" <<'PY'
import json, sys
batch = json.load(open(sys.argv[1]))
for record in batch["Records"]:
    body = json.loads(record["body"])
    body["detail"]["version"] = 2
    record["body"] = json.dumps(body, ensure_ascii=False)
json.dump(batch, open(sys.argv[2], "w"), ensure_ascii=False)
PY
  sample_label="$(basename "$ingest_sample") (v2)"
  checked="both messages failed by id (no Spotify call)"
}
check_ingest() {
  check '
import json, sys
answer = json.load(open(sys.argv[1]))
sent = {r["messageId"] for r in json.load(open(sys.argv[2]))["Records"]}
failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
assert sorted(failed) == sorted(sent), f"expected exactly {sorted(sent)} failed"
' "$1" "$event"
}
finish_ingest() { :; }

# ------------------------------------------------------------------ lake

lake_sample=events/samples/sqs-batch-artist-ingested.json
setup_lake() {
  lake_bucket="$run_id-lake"
  needs_database=no
  moto bucket "$lake_bucket" || fail "cannot create bucket $lake_bucket on $endpoint (is moto running? bash infra/local/stack.sh)"
  {
    common_env
    echo "LAKE_BUCKET=$lake_bucket"
  } >"$work/lake.vars"
  event="$lake_sample"
  sample_label="$(basename "$lake_sample")"
  checked="no failures; Parquet under top-tracks/, retry overwrites"
  lake_files=""
}
check_lake() {
  check '
import json, sys
answer = json.load(open(sys.argv[1]))
assert answer["batchItemFailures"] == [], answer
' "$1"
  local files
  files=$(moto keys "$lake_bucket" top-tracks/) || fail "cannot list bucket $lake_bucket"
  [ -n "$files" ] || fail "no objects under top-tracks/ in $lake_bucket"
  grep -qv '\.parquet$' <<<"$files" && fail "objects under top-tracks/ that are not Parquet: $files"
  if [ -n "$lake_files" ] && [ "$files" != "$lake_files" ]; then
    fail "the retried batch changed the objects under top-tracks/: before
$lake_files
after
$files"
  fi
  lake_files=$files
}
finish_lake() { :; }

# ------------------------------------------------------------------ similarity

similarity_sample=events/samples/similarity-requested.json
setup_similarity() {
  # Athena's seeded results are queued per moto account: the run takes an account of its
  # own, so nobody else's query consumes them.
  local number credentials database_arn bus="$run_id-similarity-bus"
  number=$(printf '9%011d' $(( ($$ * 100003 + $(date +%s)) % 100000000000 )))
  credentials=$(moto account "$number") || fail "cannot assume a role in moto account $number on $endpoint"
  database_arn=$(
    # shellcheck disable=SC2046
    export $credentials
    moto bus "$bus" || fail "cannot create event bus $bus on $endpoint"
    database_secret "$run_id-similarity-database" || fail "cannot create the database secret on $endpoint"
  ) || exit 1
  moto seed-profiles "$number" "$profiled_artists" 3 || fail "cannot seed Athena results on $endpoint"
  needs_database=yes
  {
    echo "AWS_ENDPOINT_URL=$endpoint"
    echo "AWS_REGION=$region"
    echo "$credentials"
    echo "DATABASE_SECRET_ARN=$database_arn"
    echo "LAKE_DATABASE=encore_lake_${run_id//-/_}"
    echo "ATHENA_WORKGROUP=primary"
    echo "ATHENA_OUTPUT_LOCATION=s3://$run_id-athena-results/similarity/"
    echo "EVENT_BUS_NAME=$bus"
  } >"$work/similarity.vars"
  event="$work/similarity-event.json"
  python3 - "$similarity_sample" "$event" <<'PY'
import json, sys
detail = json.load(open(sys.argv[1]))
envelope = {"version": "0", "id": "c0ffee00-0000-4000-8000-000000000001", "detail-type": "SimilarityRequested",
            "source": "encore.ops", "account": "123456789012", "time": "2026-11-25T09:00:00Z",
            "region": "ap-northeast-2", "resources": [], "detail": detail}
json.dump(envelope, open(sys.argv[2], "w"))
PY
  sample_label="$(basename "$similarity_sample") (envelope)"
  checked="$profiled_artists artists x $similar_per_artist rows in the datamart; refusal"
}
check_similarity() {
  check '
import json, sys
answer = json.load(open(sys.argv[1]))
artists, per_artist = int(sys.argv[2]), int(sys.argv[3])
assert answer["artists"] == artists and answer["rows"] == artists * per_artist, answer
' "$1" "$profiled_artists" "$similar_per_artist"
  local stored
  stored=$(mysql -N -B -e "SELECT COUNT(*), COUNT(DISTINCT artist_id) FROM \`$database_name\`.related_artists") ||
    fail "cannot read the datamart in $database_name"
  [ "$stored" = "$((profiled_artists * similar_per_artist))	$profiled_artists" ] ||
    fail "the datamart holds (rows, artists) = ($stored), expected ($((profiled_artists * similar_per_artist)), $profiled_artists)"
}
finish_similarity() {
  # An event the job does not run for: the ArtistIngested envelope of the lake's sample.
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["Records"][0]["body"])' "$lake_sample" >"$work/similarity-refused.json"
  if invoke "$work/similarity-refused.json" "$work/similarity-refused.out"; then
    fail "an ArtistIngested event was accepted: $(cat "$work/similarity-refused.out")"
  fi
  grep -q "UnsupportedTrigger" "$work/similarity-refused.out.err" ||
    fail "unexpected refusal: $(cat "$work/similarity-refused.out.err")"
}

# ------------------------------------------------------------------ replay

replay_sample=events/samples/replay-request.json
setup_replay() {
  local ingest ingest_dlq lake lake_dlq
  needs_database=no
  ingest=$(moto queue "$run_id-ingest") || fail "cannot create queue $run_id-ingest on $endpoint (is moto running? bash infra/local/stack.sh)"
  ingest_dlq=$(moto queue "$run_id-ingest-dlq") || fail "cannot create queue $run_id-ingest-dlq"
  lake=$(moto queue "$run_id-lake") || fail "cannot create queue $run_id-lake"
  lake_dlq=$(moto queue "$run_id-lake-dlq") || fail "cannot create queue $run_id-lake-dlq"
  for i in $(seq "$dead_letters"); do
    moto send "$ingest_dlq" "{\"detail-type\":\"ArtistRequested\",\"source\":\"encore.chat\",\"detail\":{\"version\":1,\"query\":\"artist $i\"}}" ||
      fail "cannot send a dead letter to $ingest_dlq"
  done
  {
    common_env
    echo "INGEST_QUEUE_URL=$ingest"
    echo "INGEST_DLQ_URL=$ingest_dlq"
    echo "LAKE_QUEUE_URL=$lake"
    echo "LAKE_DLQ_URL=$lake_dlq"
  } >"$work/replay.vars"
  event="$replay_sample"
  sample_label="$(basename "$replay_sample")"
  checked="$dead_letters dead letters listed (dry run); refusal"
}
check_replay() {
  check '
import json, sys
answer = json.load(open(sys.argv[1]))
expected = int(sys.argv[2])
assert answer["queue"] == "ingest" and answer["dry_run"] is True, answer
assert answer["count"] == expected, f"expected {expected} dead letters listed"
assert all(m["event"] == "ArtistRequested" and m["new_id"] is None for m in answer["messages"]), answer
' "$1" "$dead_letters"
}
finish_replay() {
  echo '{"queue":"ingets","dry_run":true}' >"$work/replay-bad.json"
  if invoke "$work/replay-bad.json" "$work/replay-bad.out"; then
    fail "a payload naming an unknown queue was accepted: $(cat "$work/replay-bad.out")"
  fi
  grep -q "unknown variant" "$work/replay-bad.out.err" ||
    fail "unexpected refusal: $(cat "$work/replay-bad.out.err")"
}

# ------------------------------------------------------------------ the run

echo "building ${functions[*]} for the host (debug)"
bin_args=()
for function in "${functions[@]}"; do
  bin_args+=(-p "$(package_of "$function")" --bin "$function")
done
cargo build --quiet "${bin_args[@]}"
target_dir=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

for function in "${functions[@]}"; do
  current=$function
  echo "$function: setting up"
  "setup_$function"
  for mode in cargo-run bare; do
    write_vars "$function" "$mode"
    start_emulator "$function" "$mode"
    echo "$function ($mode): cold invoke"
    timed_invoke "$event" "$work/$function.$mode.cold.json" start
    "check_$function" "$work/$function.$mode.cold.json"
    if [ "$mode" = cargo-run ]; then
      cold=$elapsed_ms
      echo "$function ($mode): warm invoke"
      timed_invoke "$event" "$work/$function.$mode.warm.json"
      warm=$elapsed_ms
      "check_$function" "$work/$function.$mode.warm.json"
    else
      bare=$elapsed_ms
    fi
    "finish_$function"
    stop_emulator
  done
  rows+=("$(printf '%-11s %-46s %8d %8d %8d  %s' "$function" "$sample_label" "$cold" "$warm" "$bare" "$checked")")
  current=""
  mode=""
done

echo
printf '%-11s %-46s %8s %8s %8s  %s\n' function sample "cold ms" "warm ms" "bare ms" "answer checked"
printf '%s\n' "${rows[@]}"
cat <<EOF

Host build (x86_64, debug profile), not the deployed arm64 release build, under the
cargo-lambda emulator (\`cargo lambda watch\`, invoked with \`cargo lambda invoke\`)
against moto and MariaDB on this machine. cold = the first invoke after a fresh watch,
which starts the function with \`cargo run\` (cargo's build check included), then init
(configuration, secrets from Secrets Manager, AWS clients, MySQL connect and the schema
check of a fresh, already migrated database) and the handler. warm = the next invoke on the same process. bare = the
cold invoke again on a fresh database, the built binary started directly against the
emulator's Runtime API (\`--only-lambda-apis\`) as Lambda starts \`bootstrap\`: process
start, init and the handler, without cargo. Every time includes the \`cargo lambda
invoke\` client; replay's answer waits out its 1 s SQS receive.
EOF

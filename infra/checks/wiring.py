"""Checks the wiring of infra/template.yaml that cfn-lint cannot see.

cfn-lint proves the template is valid CloudFormation/SAM; these checks prove it is *this*
system: every queue has a dead-letter queue and an alarm on it, every SQS consumer reports
batch item failures, visibility timeouts cover six times the consumer's timeout, every
function's policies name only resources of this stack, the daily schedule is an EventBridge
Scheduler schedule at 03:00 Asia/Seoul with retries and a DLQ, every AWS service a VPC
function calls has a VPC endpoint, the alarms watch every queue's oldest message and the
metrics the code emits (in its namespace), no physical name collides when the stack is
recreated, the DatabaseSchema custom resource (the migrate function) runs before every
function that reads MySQL and each of those connects with a user of its own, and the names the template hands the code (environment variables, event names, table keys,
lake columns) are the ones the code defines in:

  shared/platform/src/config.rs   the environment variable names (`keys`)
  shared/domain/src/events.rs     the event `detail-type`s and `source`s
  shared/lake/src/tables.rs       the lake tables: prefixes, SQL names, columns, projection
  shared/lake/src/query.rs        the lake SQL, and so the tables the Athena caller reads
  shared/lake/src/query/athena.rs the prefix the Athena caller unloads its result under
  shared/store/src/dynamodb.rs    the top-tracks key attributes and the calls the adapter makes
  shared/platform/src/metrics.rs  the metrics namespace, dimension and metric names
  services/similarity/src/trigger.rs  the detail-type the similarity function runs the schedule for
  services/migrate/src/lib.rs     the properties of the DatabaseSchema custom resource

Each check is then run again on a copy of the template broken on purpose (its `breaks`
mutation) and must report a problem there that it does not report on the real template,
so no check can pass vacuously.

Usage: python infra/checks/wiring.py [--root REPO] [--template FILE]
Prints one line per check and a final `N passed, N failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cfnlint.decode import cfn_yaml

# The daily similarity run: 03:00 in Seoul, in Scheduler's own time zone support.
DAILY_SCHEDULE = ("cron(0 3 * * ? *)", "Asia/Seoul")
# AWS's advice for SQS-triggered functions: visibility timeout >= 6 x function timeout
# (plus the batching window, during which received messages are already invisible).
VISIBILITY_FACTOR = 6
# The binary each function is built from (`[[bin]] name` in its service crate).
FUNCTION_BINARIES = {
    "ChatFunction": "chat",
    "IngestFunction": "ingest",
    "LakeFunction": "lake",
    "SimilarityFunction": "similarity",
    "ReplayFunction": "replay",
    "MigrateFunction": "migrate",
}
# The routes the bus must have: detail-type -> logical id of the target (queue or function).
ROUTES = {
    "ArtistRequested": ["IngestQueue", "RefreshQueue"],
    "ArtistIngested": ["LakeQueue"],
    "SimilarityRequested": ["SimilarityFunction"],
}
SOURCE_PREFIX = "encore."

# Managed policies SAM attaches to the roles it generates, each allowed for a reason.
ALLOWED_MANAGED_POLICIES = {
    # Every function writes its logs; SAM attaches AWS's basic execution policy to every
    # role it generates (logs:CreateLogStream/PutLogEvents).
    "service-role/AWSLambdaBasicExecutionRole": "every function",
    # Attaching a function to subnets needs ec2:CreateNetworkInterface and
    # ec2:DescribeNetworkInterfaces, which AWS does not scope to resources.
    "service-role/AWSLambdaVPCAccessExecutionRole": "functions with VpcConfig",
    # xray:PutTraceSegments/PutTelemetryRecords take no resource; only with Tracing Active.
    "AWSXrayWriteOnlyAccess": "Tracing Active",
}
# Resources named without a resource of this stack, allowed where AWS requires them.
ALLOWED_ACCOUNT_RESOURCES = [
    # Glue authorizes every catalog call on the account's catalog ARN as well as on the
    # database and table ARNs (which are this stack's); Athena makes these calls with the
    # similarity function's permissions.
    (re.compile(r"^glue:Get(Database|Table|Tables|Partitions)$"),
     "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog"),
]
# Environment variables holding secrets: the template may only pass their ARNs.
SECRET_KEYS = {"SPOTIFY_CLIENT_SECRET", "ENCORE_SKILL_SECRET"}
# What each environment variable must point at: a resource type of this stack.
ENV_TARGETS = [
    (re.compile(r"^TOP_TRACKS_TABLE$"), "AWS::DynamoDB::Table"),
    (re.compile(r"^EVENT_BUS_NAME$"), "AWS::Events::EventBus"),
    (re.compile(r"^LAKE_BUCKET$"), "AWS::S3::Bucket"),
    (re.compile(r"^LAKE_DATABASE$"), "AWS::Glue::Database"),
    (re.compile(r"^ATHENA_WORKGROUP$"), "AWS::Athena::WorkGroup"),
    (re.compile(r"_SECRET_ARN$"), "AWS::SecretsManager::Secret"),
    (re.compile(r"_(QUEUE|DLQ)_URL$"), "AWS::SQS::Queue"),
    (re.compile(r"^DATABASE_URL$"), "AWS::RDS::DBProxy"),
]
# Environment variables naming several resources of one type, each granted (the consumed
# queues and their dead-letter queues, `<source ARN>=<DLQ URL>,…`).
ENV_MULTI_TARGETS = [
    (re.compile(r"^ENCORE_DEAD_LETTER_QUEUES$"), "AWS::SQS::Queue"),
]
# The DynamoDB actions each function needs on the top-tracks table, by the calls it makes
# through shared/store's adapter (TopTracksCache); the template grants exactly these.
TOP_TRACKS_CALLS = {
    # top_tracks (BatchGetItem); latest_releases, the artist's one releases item (GetItem).
    "ChatFunction": {"dynamodb:BatchGetItem", "dynamodb:GetItem"},
    # put_top_tracks (BatchWriteItem, deletes included); put_latest_releases (PutItem);
    # the similar artists' tracks of a callback answer (top_tracks, BatchGetItem).
    "IngestFunction": {"dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"},
}
# Data-plane calls of the DynamoDB SDK client, as the adapter spells them.
DYNAMODB_CALLS = re.compile(
    r"\.(batch_get_item|batch_write_item|get_item|put_item|delete_item|update_item|query|scan"
    r"|transact_get_items|transact_write_items|execute_statement)\(\)")
# Resource types a function reaches through a network path rather than IAM.
NON_IAM_TYPES = {"AWS::RDS::DBProxy"}
# The AWS service (VPC endpoint name) a function calls when granted a SAM policy template;
# None: the grant is used by Lambda itself, outside the function's network.
POLICY_TEMPLATE_SERVICES = {
    "EventBridgePutEventsPolicy": "events",
    "AWSSecretsManagerGetSecretValuePolicy": "secretsmanager",
    # The event source mapping polls the queue with the function's role, from Lambda's
    # own fleet: the function itself never calls SQS for it.
    "SQSPollerPolicy": None,
    "SQSSendMessagePolicy": "sqs",
    "S3ReadPolicy": "s3",
    "S3WritePolicy": "s3",
    "S3CrudPolicy": "s3",
    "DynamoDBReadPolicy": "dynamodb",
    "DynamoDBCrudPolicy": "dynamodb",
}
# The same for the action prefixes of inline statements.
ACTION_SERVICES = {
    "dynamodb": "dynamodb",
    "events": "events",
    "secretsmanager": "secretsmanager",
    "athena": "athena",
    "s3": "s3",
    "sqs": "sqs",
    "logs": "logs",
    "lambda": "lambda",
    # Athena reads the Glue catalog itself, with the caller's permissions: granted to the
    # function, called by Athena.
    "glue": None,
}
# Services reached through a gateway endpoint (route tables); the rest need an interface endpoint.
GATEWAY_SERVICES = {"s3", "dynamodb"}
# Services an internet caller (in the NAT subnets) may reach through the NAT instead of an
# endpoint. sqs: ingest sends only the rare message that can never succeed to its DLQ
# (a few KB each), cheaper through the NAT ($0.045/GB) than an interface endpoint
# ($0.01 per AZ-hour, $14.60 a month for two AZs).
NAT_SERVICES = {"sqs"}
# Environment variables that make a function call the internet (Spotify, and with it the
# Kakao callbacks and the audio-features fallback): it must run in the NAT subnets.
INTERNET_KEYS = {"SPOTIFY_CLIENT_ID"}
# Physical-name properties by resource type (path into Properties).
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::Events::EventBus": ("Name",),
    "AWS::Events::Rule": ("Name",),
    "AWS::Athena::WorkGroup": ("Name",),
    "AWS::RDS::DBProxy": ("DBProxyName",),
    "AWS::RDS::DBInstance": ("DBInstanceIdentifier",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::Scheduler::Schedule": ("Name",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::Serverless::Function": ("FunctionName",),
}
# The alarm threshold on a consumed queue's oldest message may be at most this (seconds).
MAX_OLDEST_MESSAGE_AGE = 3600
PSEUDO_PARAMETERS = re.compile(r"^AWS::")


# ------------------------------------------------------------------ template helpers


def refs(value: Any) -> set[str]:
    """Logical ids and parameters an expression references (Ref, GetAtt, Sub, nested)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" and isinstance(arg, str):
                return set() if PSEUDO_PARAMETERS.match(arg) else {arg}
            if key == "Fn::GetAtt":
                return {get_att(value)[0]}
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names = {m.split(".", 1)[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                names = {n for n in names if not PSEUDO_PARAMETERS.match(n)} - set(variables)
                for v in variables.values():
                    names |= refs(v)
                return names
        for v in value.values():
            found |= refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= refs(v)
    return found


def merge(base: Any, local: Any) -> Any:
    """SAM's Globals rule: maps merge (local keys win), lists concatenate, else local wins."""
    if isinstance(base, dict) and isinstance(local, dict):
        if any(k.startswith("Fn::") or k == "Ref" for k in list(base) + list(local)):
            return local
        out = dict(base)
        for k, v in local.items():
            out[k] = merge(out[k], v) if k in out else v
        return out
    if isinstance(base, list) and isinstance(local, list):
        return base + local
    return local


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def get_att(value: Any) -> tuple[str, str] | None:
    """(logical id, attribute) of a `Fn::GetAtt`, in either of its forms."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        arg = value["Fn::GetAtt"]
        name, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        return name, attribute
    return None


def sub_text(value: Any) -> str:
    """The text of a string or of a `Fn::Sub` (either form); empty for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        arg = value["Fn::Sub"]
        return arg if isinstance(arg, str) else arg[0]
    return ""


@dataclass
class Stack:
    """The template (plain JSON types) with SAM Globals merged into each function."""

    template: dict
    root: Path
    functions: dict[str, dict] = field(init=False)

    def __post_init__(self) -> None:
        glob = self.template.get("Globals", {}).get("Function", {})
        self.functions = {
            name: merge(glob, r.get("Properties", {}))
            for name, r in self.resources.items()
            if r["Type"] == "AWS::Serverless::Function"
        }

    @property
    def resources(self) -> dict[str, dict]:
        return self.template["Resources"]

    def of_type(self, kind: str) -> dict[str, dict]:
        return {n: r.get("Properties", {}) for n, r in self.resources.items() if r["Type"] == kind}

    def transformed(self) -> dict:
        """The template after the SAM transform (as CloudFormation runs it), with tracing on,
        so the roles carry every policy they can get."""
        from samtranslator.public.exceptions import InvalidDocumentException
        from samtranslator.translator.transform import transform

        class NoLookups:  # SAM looks up managed policies by name only; the template uses none.
            def load(self) -> dict:
                raise RuntimeError("the template names a managed policy by name; use its ARN")

        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        template = copy.deepcopy(self.template)
        for r in template["Resources"].values():
            if r["Type"] == "AWS::Serverless::Function":
                r["Properties"]["CodeUri"] = "s3://wiring-check/code.zip"  # what `sam package` does
        parameters = {"Tracing": "Active", "SpotifyClientId": "x", "VpcId": "vpc-0", "SubnetIds": ["subnet-0"],
                      "EgressSubnetIds": ["subnet-1"]}
        logging.getLogger("samtranslator").setLevel(logging.ERROR)
        try:
            return transform(template, parameters, NoLookups())
        except InvalidDocumentException as e:
            raise CheckError("the SAM transform rejects the template: " + "; ".join(map(str, e.causes))) from e


# ------------------------------------------------------------------ source facts


class CheckError(Exception):
    """A source file the check relies on is missing or no longer has the expected shape."""


def read(root: Path, rel: str) -> str:
    path = root / rel
    if not path.is_file():
        raise CheckError(f"{rel} not found (the check reads its definitions from there)")
    return path.read_text(encoding="utf-8")


def find(pattern: str, text: str, where: str, flags: int = 0) -> str:
    """The first group of `pattern` in `text`, or a CheckError naming what is missing where."""
    match = re.search(pattern, text, flags)
    if not match:
        raise CheckError(f"{where}: nothing matches {pattern!r}; update infra/checks/wiring.py with the code")
    return match.group(1)


CONFIG_RS = "shared/platform/src/config.rs"
METRICS_RS = "shared/platform/src/metrics.rs"
TRIGGER_RS = "services/similarity/src/trigger.rs"
EVENTS_RS = "shared/domain/src/events.rs"
TABLES_RS = "shared/lake/src/tables.rs"
QUERY_RS = "shared/lake/src/query.rs"
ATHENA_RS = "shared/lake/src/query/athena.rs"
DYNAMODB_RS = "shared/store/src/dynamodb.rs"
MIGRATE_RS = "services/migrate/src/lib.rs"
# The custom resource that migrates the schema and creates the function users, and the
# function that answers it; the functions that use MySQL with their own user each.
SCHEMA_RESOURCE_TYPE = "Custom::DatabaseSchema"
MIGRATE_FUNCTION = "MigrateFunction"
MASTER_SECRET = "DatabaseSecret"


def config_keys(root: Path) -> set[str]:
    block = find(r"pub mod keys \{(.*?)\n\}", read(root, CONFIG_RS), CONFIG_RS, re.S)
    return set(re.findall(r'pub const \w+: &str = "([^"]+)";', block))


def metric_names(root: Path) -> tuple[str, str, dict[str, str]]:
    """(namespace, dimension, {const name: metric name}) of shared/platform's metrics."""
    text = read(root, METRICS_RS)
    namespace = find(r'pub const NAMESPACE: &str = "([^"]+)";', text, METRICS_RS)
    dimension = find(r'pub const SERVICE_DIMENSION: &str = "([^"]+)";', text, METRICS_RS)
    block = find(r"pub mod names \{(.*?)\n\}", text, METRICS_RS, re.S)
    names = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', block))
    if not names:
        raise CheckError(f"{METRICS_RS}: no metric names in `names`")
    return namespace, dimension, names


def scheduled_detail_type(root: Path) -> str:
    return find(r'pub const SCHEDULED_EVENT: &str = "([^"]+)";', read(root, TRIGGER_RS), TRIGGER_RS)


def event_names(root: Path) -> tuple[set[str], set[str]]:
    text = read(root, EVENTS_RS)
    detail_types = set(re.findall(r"const DETAIL_TYPE: &'static str = \"([^\"]+)\";", text))
    sources = set(re.findall(r'pub const SOURCE_\w+: &str = "([^"]+)";', text))
    if not detail_types or not sources:
        raise CheckError(f"{EVENTS_RS}: no DETAIL_TYPE or SOURCE_* constants found")
    return detail_types, sources


@dataclass
class LakeTableDef:
    const: str
    prefix: str
    sql_name: str
    columns: list[tuple[str, str]]  # (name, glue type)


def lake_tables(root: Path) -> tuple[list[LakeTableDef], dict[str, str]]:
    """The tables of ALL_TABLES with Glue types, and the projection settings of the DDL."""
    text = read(root, TABLES_RS)
    glue = dict(re.findall(r'Self::(\w+) => "(\w+)"', find(r"(fn glue_type\(self\).*?\n    \})", text, TABLES_RS, re.S)))
    listed = find(r"pub const ALL_TABLES: \[LakeTable; \d+\] = \[([^\]]*)\]", text, TABLES_RS)
    tables = []
    for const in [c.strip() for c in listed.split(",") if c.strip()]:
        body = find(rf"pub const {const}: LakeTable = LakeTable \{{(.*?)\n\}};", text, TABLES_RS, re.S)
        columns = re.findall(r'(?:required|optional)\("(\w+)",\s*ColumnType::(\w+)\)', body)
        unknown = sorted({kind for _, kind in columns} - set(glue))
        if unknown:
            raise CheckError(f"{TABLES_RS}: column types {unknown} have no Glue type")
        tables.append(LakeTableDef(const, find(r'prefix: "([^"]+)"', body, f"{TABLES_RS} {const}"),
                                   find(r'sql_name: "([^"]+)"', body, f"{TABLES_RS} {const}"),
                                   [(name, glue[kind]) for name, kind in columns]))
    projection = {
        "partition": find(r'pub const PARTITION_COLUMN: &str = "([^"]+)"', text, TABLES_RS),
        "format": find(r'const PROJECTION_DATE_FORMAT: &str = "([^"]+)"', text, TABLES_RS),
        "range_end": find(r"'projection\.\{dt\}\.range'='\{first\},([^']+)'", text, TABLES_RS),
    }
    return tables, projection


def tables_read_by_sql(root: Path, names: set[str]) -> set[str]:
    """The lake tables (of `names`) that the lake SQL (PROFILE_SQL) reads."""
    sql = find(r'pub const PROFILE_SQL: &str = "(.*?)";', read(root, QUERY_RS), QUERY_RS, re.S)
    read_tables = set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql, re.I)) & names
    if not read_tables:
        raise CheckError(f"{QUERY_RS}: PROFILE_SQL reads no lake table; update infra/checks/wiring.py with the code")
    return read_tables


def unload_prefix(root: Path) -> str:
    """The prefix of the lake bucket the Athena adapter UNLOADs the profile query's result under."""
    return find(r'pub const UNLOAD_PREFIX: &str = "([^"/]+)";', read(root, ATHENA_RS), ATHENA_RS)


def dynamodb_actions(root: Path) -> set[str]:
    """The IAM actions of the data-plane calls shared/store's DynamoDB adapter makes."""
    calls = set(DYNAMODB_CALLS.findall(read(root, DYNAMODB_RS)))
    if not calls:
        raise CheckError(f"{DYNAMODB_RS}: no DynamoDB calls found; update infra/checks/wiring.py with the code")
    return {"dynamodb:" + "".join(word.capitalize() for word in call.split("_")) for call in calls}


def schema_properties(root: Path) -> set[str]:
    """The property names of services/migrate's SchemaProperties (PascalCase, as serde reads them)."""
    block = find(r"pub struct SchemaProperties \{(.*?)\n\}", read(root, MIGRATE_RS), MIGRATE_RS, re.S)
    fields = re.findall(r"pub (\w+): ", block)
    if not fields:
        raise CheckError(f"{MIGRATE_RS}: SchemaProperties has no fields")
    return {"".join(w.capitalize() for w in f.split("_")) for f in fields}


def dynamodb_keys(root: Path) -> tuple[str, str]:
    text = read(root, DYNAMODB_RS)
    return (find(r'pub const ARTIST_ID: &str = "([^"]+)"', text, DYNAMODB_RS),
            find(r'pub const RANK: &str = "([^"]+)"', text, DYNAMODB_RS))


# ------------------------------------------------------------------ the checks

CHECKS: list[tuple[str, Callable[[Stack], list[str]], Callable[[dict], None]]] = []


def check(name: str, breaks: Callable[[dict], None]):
    """Registers a check with the mutation that must make it fail."""

    def register(fn: Callable[[Stack], list[str]]):
        CHECKS.append((name, fn, breaks))
        return fn

    return register


def res(t: dict, name: str) -> dict:
    return t["Resources"][name]["Properties"]


@check("every function is provided.al2023 + arm64 + bootstrap, built by cargo-lambda, JSON logs",
       lambda t: t["Globals"]["Function"].update(Architectures=["x86_64"]))
def functions_are_rust_on_arm(s: Stack) -> list[str]:
    problems = []
    if set(s.functions) != set(FUNCTION_BINARIES):
        problems.append(f"functions {sorted(s.functions)} != {sorted(FUNCTION_BINARIES)}")
    for name, p in s.functions.items():
        meta = s.resources[name].get("Metadata", {})
        want = {
            "Runtime": (p.get("Runtime"), "provided.al2023"),
            "Architectures": (p.get("Architectures"), ["arm64"]),
            "Handler": (p.get("Handler"), "bootstrap"),
            "CodeUri": (p.get("CodeUri"), ".."),
            "BuildMethod": (meta.get("BuildMethod"), "rust-cargolambda"),
            "Binary": (meta.get("BuildProperties", {}).get("Binary"), FUNCTION_BINARIES.get(name)),
            "LogFormat": (p.get("LoggingConfig", {}).get("LogFormat"), "JSON"),
        }
        problems += [f"{name}: {k} is {got!r}, want {exp!r}" for k, (got, exp) in want.items() if got != exp]
        problems += [f"{name}: {k} not chosen" for k in ("MemorySize", "Timeout") if k not in p]
    return problems


@check("tracing is optional by parameter",
       lambda t: t["Globals"]["Function"].update(Tracing="Active"))
def tracing_by_parameter(s: Stack) -> list[str]:
    problems = []
    for name, p in s.functions.items():
        tracing = p.get("Tracing")
        if refs(tracing) != {"Tracing"} or "Tracing" not in s.template.get("Parameters", {}):
            problems.append(f"{name}: Tracing is {tracing!r}, not the Tracing parameter")
    return problems


def dead_letter_targets(s: Stack) -> dict[str, str]:
    """source queue -> its dead-letter queue."""
    out = {}
    for name, p in s.of_type("AWS::SQS::Queue").items():
        redrive = p.get("RedrivePolicy")
        if redrive:
            out[name] = next(iter(refs(redrive.get("deadLetterTargetArn"))), "")
    return out


def delivery_dead_letters(s: Stack) -> set[str]:
    """Queues that take what a schedule or a rule could not deliver (not the redrive kind)."""
    out = set()
    for p in s.of_type("AWS::Scheduler::Schedule").values():
        out |= refs(p.get("Target", {}).get("DeadLetterConfig", {}).get("Arn"))
    for p in s.of_type("AWS::Events::Rule").values():
        for target in p.get("Targets", []):
            out |= refs(target.get("DeadLetterConfig", {}).get("Arn"))
    return out


@check("every queue has a dead-letter queue (redrive, maxReceiveCount a parameter)",
       lambda t: res(t, "LakeQueue").pop("RedrivePolicy"))
def queues_have_dead_letters(s: Stack) -> list[str]:
    problems = []
    queues = s.of_type("AWS::SQS::Queue")
    targets = dead_letter_targets(s)
    dlqs = set(targets.values()) | delivery_dead_letters(s)
    for name, p in queues.items():
        if name in dlqs:
            continue
        if name not in targets:
            problems.append(f"{name} has no RedrivePolicy and is no queue's dead-letter queue")
            continue
        if targets[name] not in queues:
            problems.append(f"{name}: deadLetterTargetArn is not a queue of this stack")
        if refs(p["RedrivePolicy"].get("maxReceiveCount")) != {"MaxReceiveCount"}:
            problems.append(f"{name}: maxReceiveCount is not the MaxReceiveCount parameter")
        dlq_retention = queues.get(targets[name], {}).get("MessageRetentionPeriod", 345600)
        if dlq_retention <= p.get("MessageRetentionPeriod", 345600):
            problems.append(f"{name}: its dead-letter queue keeps messages no longer than it does")
    return problems


@check("every dead-letter queue has an alarm on ApproximateNumberOfMessagesVisible > 0",
       lambda t: t["Resources"].pop("ScheduleDeadLettersAlarm"))
def dead_letters_alarm(s: Stack) -> list[str]:
    watched = set()
    for p in s.of_type("AWS::CloudWatch::Alarm").values():
        if (p.get("Namespace") == "AWS/SQS" and p.get("MetricName") == "ApproximateNumberOfMessagesVisible"
                and p.get("ComparisonOperator") == "GreaterThanThreshold" and float(p.get("Threshold", -1)) == 0
                and p.get("AlarmActions")):
            for d in p.get("Dimensions", []):
                target = get_att(d.get("Value"))
                if d.get("Name") == "QueueName" and target and target[1] == "QueueName":
                    watched.add(target[0])
    dlqs = set(dead_letter_targets(s).values()) | delivery_dead_letters(s)
    return [f"dead-letter queue {q} has no alarm on its depth (with an action)" for q in sorted(dlqs - watched)]


def mappings(s: Stack) -> dict[str, tuple[str, dict]]:
    """queue -> (consuming function, event source mapping properties)."""
    out = {}
    for p in s.of_type("AWS::Lambda::EventSourceMapping").values():
        queue = next(iter(refs(p.get("EventSourceArn"))), "")
        out[queue] = (next(iter(refs(p.get("FunctionName"))), ""), p)
    return out


@check("every queue is consumed by an event source mapping that reports batch item failures",
       lambda t: res(t, "IngestQueueMapping").pop("FunctionResponseTypes"))
def mappings_report_failures(s: Stack) -> list[str]:
    problems = []
    for name, p in s.functions.items():
        for event_name, e in p.get("Events", {}).items():
            if e.get("Type") == "SQS":
                # SAM's SQS event attaches AWSLambdaSQSQueueExecutionRole: receive/delete on every queue ("*").
                problems.append(f"{name}.{event_name}: use an AWS::Lambda::EventSourceMapping, not a SAM SQS event")
    found = mappings(s)
    for queue in dead_letter_targets(s):
        if queue not in found:
            problems.append(f"{queue} has no event source mapping")
            continue
        function, p = found[queue]
        if function not in s.functions:
            problems.append(f"{queue}: mapping targets {function!r}, not a function of this stack")
        if "ReportBatchItemFailures" not in p.get("FunctionResponseTypes", []):
            problems.append(f"{queue}: mapping does not report batch item failures")
        if "BatchSize" not in p or "MaximumBatchingWindowInSeconds" not in p:
            problems.append(f"{queue}: batch size and batching window not chosen")
    return problems


@check(f"visibility timeout >= {VISIBILITY_FACTOR} x consumer timeout + batching window",
       lambda t: res(t, "LakeQueue").update(VisibilityTimeout=300))
def visibility_covers_consumer(s: Stack) -> list[str]:
    problems = []
    for queue, (function, p) in mappings(s).items():
        timeout = s.functions.get(function, {}).get("Timeout", 3)
        needed = VISIBILITY_FACTOR * timeout + p.get("MaximumBatchingWindowInSeconds", 0)
        visibility = s.of_type("AWS::SQS::Queue").get(queue, {}).get("VisibilityTimeout", 30)
        if visibility < needed:
            problems.append(f"{queue}: VisibilityTimeout {visibility} < {needed} ({function} Timeout {timeout})")
    return problems


def rule_schedules(s: Stack) -> list[tuple[str, str]]:
    """(target, expression) of every EventBridge-rule schedule (SAM `Schedule` events and
    rules with a ScheduleExpression): no time zone, no retry policy of their own."""
    out = []
    for name, p in s.functions.items():
        for e in p.get("Events", {}).values():
            if e.get("Type") == "Schedule":
                out.append((name, e["Properties"].get("Schedule")))
    for p in s.of_type("AWS::Events::Rule").values():
        if "ScheduleExpression" in p:
            for target in p.get("Targets", []):
                out.append((next(iter(refs(target.get("Arn"))), ""), p["ScheduleExpression"]))
    return out


def role_allows(s: Stack, role: str, action: str, resource: str) -> bool:
    """Whether the inline policies of IAM role `role` allow `action` on (a Ref/GetAtt of) `resource`."""
    for policy in s.resources.get(role, {}).get("Properties", {}).get("Policies", []):
        for st in as_list(policy.get("PolicyDocument", {}).get("Statement", [])):
            if (st.get("Effect") == "Allow" and action in as_list(st.get("Action"))
                    and resource in refs(st.get("Resource"))):
                return True
    return False


@check(f"the daily run is an EventBridge Scheduler schedule at {DAILY_SCHEDULE[0]} {DAILY_SCHEDULE[1]}, "
       "every schedule retries and dead-letters through its own role, the similarity function runs one at a time",
       lambda t: res(t, "DailySimilaritySchedule").pop("ScheduleExpressionTimezone"))
def daily_schedule(s: Stack) -> list[str]:
    problems = [f"{target}: EventBridge rule schedule {expression!r}; use AWS::Scheduler::Schedule (time zone, retries, DLQ)"
                for target, expression in rule_schedules(s)]
    schedules = s.of_type("AWS::Scheduler::Schedule")
    daily = [n for n, p in schedules.items()
             if refs(p.get("Target", {}).get("Arn")) == {"SimilarityFunction"}
             and (p.get("ScheduleExpression"), p.get("ScheduleExpressionTimezone")) == DAILY_SCHEDULE]
    if len(daily) != 1:
        problems.append(f"{len(daily)} schedules run SimilarityFunction at {DAILY_SCHEDULE}, want exactly one")
    detail_type = scheduled_detail_type(s.root)
    for name in daily:
        try:
            sent = json.loads(schedules[name]["Target"].get("Input", ""))
        except json.JSONDecodeError:
            sent = {}
        if sent.get("detail-type") != detail_type:
            problems.append(f"{name}: Input's detail-type is not {detail_type!r} ({TRIGGER_RS}): the function would refuse it")
    for name, p in schedules.items():
        target = p.get("Target", {})
        if p.get("FlexibleTimeWindow", {}).get("Mode") != "OFF":
            problems.append(f"{name}: FlexibleTimeWindow is not OFF")
        if "MaximumRetryAttempts" not in target.get("RetryPolicy", {}):
            problems.append(f"{name}: no retry policy")
        dlq = refs(target.get("DeadLetterConfig", {}).get("Arn"))
        if len(dlq) != 1 or s.resources.get(next(iter(dlq)), {}).get("Type") != "AWS::SQS::Queue":
            problems.append(f"{name}: no dead-letter queue of this stack")
        role = next(iter(refs(target.get("RoleArn"))), "")
        trust = s.resources.get(role, {}).get("Properties", {}).get("AssumeRolePolicyDocument", {})
        if not any(st.get("Principal") == {"Service": "scheduler.amazonaws.com"} for st in as_list(trust.get("Statement", []))):
            problems.append(f"{name}: RoleArn is not a role of this stack that scheduler.amazonaws.com assumes")
            continue
        for function in refs(target.get("Arn")):
            if not role_allows(s, role, "lambda:InvokeFunction", function):
                problems.append(f"{name}: {role} may not invoke {function}")
        for queue in dlq:
            if not role_allows(s, role, "sqs:SendMessage", queue):
                problems.append(f"{name}: {role} may not send to its dead-letter queue {queue}")
    for name, p in s.functions.items():
        for event_name, e in p.get("Events", {}).items():
            if e.get("Type") == "ScheduleV2":
                props = e["Properties"]
                if "RetryPolicy" not in props or "DeadLetterConfig" not in props:
                    problems.append(f"{name}.{event_name}: a ScheduleV2 event without RetryPolicy and DeadLetterConfig")
    if s.functions.get("SimilarityFunction", {}).get("ReservedConcurrentExecutions") != 1:
        problems.append("SimilarityFunction: ReservedConcurrentExecutions is not 1 (a manual run could overlap the schedule)")
    return problems


# A newly ingested artist has its neighbours within this many minutes on AWS (issue 20).
CATCH_UP_PROMISE_MAX_MINUTES = 15
# What the promise adds to the catch-up interval: the lake queue's batching window (1 min),
# the run itself (Athena, k-NN, load: up to 3 min at 100k artists) and the chat cache (1 min).
CATCH_UP_SLACK_MINUTES = 5


def catch_up_field(root: Path) -> str:
    return find(r'pub const CATCH_UP_FIELD: &str = "([^"]+)";', read(root, TRIGGER_RS), TRIGGER_RS)


@check(f"a catch-up schedule runs SimilarityFunction every few minutes, and the chat and ingest "
       f"functions promise neighbours within its interval + {CATCH_UP_SLACK_MINUTES} "
       f"<= {CATCH_UP_PROMISE_MAX_MINUTES} minutes",
       lambda t: res(t, "CatchUpSimilaritySchedule").update(ScheduleExpression="rate(14 minutes)"))
def catch_up_schedule(s: Stack) -> list[str]:
    problems = []
    field_name = catch_up_field(s.root)
    intervals = []
    for name, p in s.of_type("AWS::Scheduler::Schedule").items():
        if refs(p.get("Target", {}).get("Arn")) != {"SimilarityFunction"}:
            continue
        try:
            sent = json.loads(p["Target"].get("Input", ""))
        except json.JSONDecodeError:
            continue
        if sent.get("detail", {}).get(field_name) is not True:
            continue
        m = re.fullmatch(r"rate\((\d+) minutes?\)", p.get("ScheduleExpression", ""))
        if not m:
            problems.append(f"{name}: ScheduleExpression {p.get('ScheduleExpression')!r} is not rate(N minutes)")
            continue
        intervals.append(int(m.group(1)))
    if len(intervals) != 1:
        return problems + [f"{len(intervals)} schedules send SimilarityFunction a {field_name!r} tick, want exactly one"]
    needed = intervals[0] + CATCH_UP_SLACK_MINUTES
    parameters = s.template.get("Parameters", {})
    for function in ("ChatFunction", "IngestFunction"):
        value = s.functions.get(function, {}).get("Environment", {}).get("Variables", {}).get("ENCORE_RELATED_WITHIN_MINUTES")
        named = refs(value)
        parameter = parameters.get(next(iter(named)), {}) if len(named) == 1 else {}
        try:
            promised, least = int(parameter["Default"]), int(parameter["MinValue"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"{function}: ENCORE_RELATED_WITHIN_MINUTES is {value!r}, not a parameter with a Default and a MinValue")
            continue
        if least < needed or not needed <= promised <= CATCH_UP_PROMISE_MAX_MINUTES:
            problems.append(f"{function}: promises {promised} minutes (at least {least}); the catch-up interval "
                            f"{intervals[0]} + {CATCH_UP_SLACK_MINUTES} needs {needed}, at most {CATCH_UP_PROMISE_MAX_MINUTES}")
    return problems


def bus_routes(s: Stack) -> list[tuple[str, str, dict, list[str]]]:
    """(rule name, bus expression, pattern, targets) of every rule with a pattern."""
    out = []
    for name, p in s.of_type("AWS::Events::Rule").items():
        if "EventPattern" in p:
            targets = [next(iter(refs(t.get("Arn"))), "") for t in p.get("Targets", [])]
            out.append((name, p.get("EventBusName"), p["EventPattern"], targets))
    for name, p in s.functions.items():
        for event_name, e in p.get("Events", {}).items():
            if e.get("Type") == "EventBridgeRule":
                props = e["Properties"]
                out.append((f"{name}.{event_name}", props.get("EventBusName"), props.get("Pattern", {}), [name]))
    return out


@check("bus rules route the code's detail-types (encore.* sources) to their consumers",
       lambda t: res(t, "IngestRule")["EventPattern"].update({"detail-type": ["ArtistRequest"]}))
def rules_route_events(s: Stack) -> list[str]:
    detail_types, sources = event_names(s.root)
    problems = []
    bad_sources = [src for src in sources if not src.startswith(SOURCE_PREFIX)]
    if bad_sources:
        problems.append(f"event sources {bad_sources} do not start with {SOURCE_PREFIX!r}")
    routed: dict[str, list[str]] = {}
    for rule, bus, pattern, targets in bus_routes(s):
        if refs(bus) != {"EventBus"} or s.resources.get("EventBus", {}).get("Type") != "AWS::Events::EventBus":
            problems.append(f"{rule}: not on this stack's EventBus")
        if pattern.get("source") != [{"prefix": SOURCE_PREFIX}]:
            problems.append(f"{rule}: source pattern {pattern.get('source')!r}, want prefix {SOURCE_PREFIX!r}")
        for dt in pattern.get("detail-type", []):
            if dt not in detail_types:
                problems.append(f"{rule}: detail-type {dt!r} is no event of shared/domain ({sorted(detail_types)})")
            routed.setdefault(dt, []).extend(targets)
    for dt, targets in ROUTES.items():
        if sorted(routed.get(dt, [])) != sorted(targets):
            problems.append(f"{dt} goes to {routed.get(dt)}, want {targets!r}")
    return problems


def refresh_reason(root: Path) -> tuple[str, str]:
    """(detail field, refresh spelling) of shared/domain's RequestReason."""
    text = read(root, EVENTS_RS)
    field = find(r'pub const FIELD: &\'static str = "([^"]+)";', text, EVENTS_RS)
    value = find(r'pub const REFRESH: &\'static str = "([^"]+)";', text, EVENTS_RS)
    return field, value


@check("refresh requests go to their own queue and pollers; no other ArtistRequested rule takes them",
       lambda t: res(t, "IngestRule")["EventPattern"].pop("detail"))
def refreshes_queue_apart(s: Stack) -> list[str]:
    field, value = refresh_reason(s.root)
    problems = []
    to_refresh = 0
    for rule, _, pattern, targets in bus_routes(s):
        if "ArtistRequested" not in pattern.get("detail-type", []):
            continue
        reason = pattern.get("detail", {}).get(field)
        if targets == ["RefreshQueue"]:
            to_refresh += 1
            if reason != [value]:
                problems.append(f"{rule}: sends to RefreshQueue matching {field} {reason!r}, want [{value!r}]")
        elif reason != [{"anything-but": value}]:
            problems.append(f"{rule}: sends ArtistRequested to {targets} without excluding {field} {value!r}")
    if to_refresh != 1:
        problems.append(f"{to_refresh} rules send refresh requests to RefreshQueue, want 1")
    found = mappings(s)
    users = found.get("IngestQueue", ("", {}))[0]
    refresh = found.get("RefreshQueue")
    if refresh is None or refresh[0] != users or not users:
        problems.append("RefreshQueue is not consumed by the function that consumes IngestQueue")
    elif "MaximumConcurrency" not in refresh[1].get("ScalingConfig", {}):
        problems.append("RefreshQueue's mapping has no concurrency of its own (ScalingConfig.MaximumConcurrency)")
    return problems


@check("every queue a rule sends to (or dead-letters to) lets that rule send (aws:SourceArn)",
       lambda t: t["Resources"].pop("IngestQueuePolicy"))
def queue_policies_allow_rules(s: Stack) -> list[str]:
    allowed: set[tuple[str, str]] = set()
    for p in s.of_type("AWS::SQS::QueuePolicy").values():
        for queue in refs(p.get("Queues")):
            for st in as_list(p.get("PolicyDocument", {}).get("Statement", [])):
                source = st.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn")
                if (st.get("Effect") == "Allow" and st.get("Principal") == {"Service": "events.amazonaws.com"}
                        and "sqs:SendMessage" in as_list(st.get("Action")) and refs(st.get("Resource")) == {queue}
                        and source is not None):
                    allowed |= {(queue, rule) for rule in refs(source)}
    problems = []
    for name, p in s.of_type("AWS::Events::Rule").items():
        for target in p.get("Targets", []):
            for arn in [target.get("Arn"), target.get("DeadLetterConfig", {}).get("Arn")]:
                queue = next(iter(refs(arn)), None)
                if queue in s.of_type("AWS::SQS::Queue") and (queue, name) not in allowed:
                    problems.append(f"{queue} has no queue policy letting rule {name} send (aws:SourceArn)")
    return problems


def environment(s: Stack) -> dict[str, dict[str, Any]]:
    return {n: p.get("Environment", {}).get("Variables", {}) for n, p in s.functions.items()}


@check("every environment variable name is a key of shared/platform/src/config.rs",
       lambda t: res(t, "ChatFunction")["Environment"]["Variables"].update(TOP_TRACKS="x"))
def env_names_are_keys(s: Stack) -> list[str]:
    keys = config_keys(s.root)
    return [f"{fn}: {name} is not in config.rs `keys`" for fn, env in environment(s).items()
            for name in sorted(env) if name not in keys]


@check("secrets reach functions only as Secrets Manager ARNs",
       lambda t: res(t, "ChatFunction")["Environment"]["Variables"].update(ENCORE_SKILL_SECRET="hunter2"))
def secrets_only_by_arn(s: Stack) -> list[str]:
    problems = []
    for fn, env in environment(s).items():
        problems += [f"{fn}: {name} would carry the secret itself" for name in sorted(env) if name in SECRET_KEYS]
        if "DATABASE_URL" in env:
            if "@" in sub_text(env["DATABASE_URL"]) or "DATABASE_SECRET_ARN" not in env:
                problems.append(f"{fn}: DATABASE_URL must carry no credentials; they come from DATABASE_SECRET_ARN")
    return problems


@check("environment values name this stack's resources, and each function's policy covers them",
       lambda t: res(t, "ChatFunction")["Policies"].pop(1))
def env_values_are_stack_resources(s: Stack) -> list[str]:
    problems = []
    for fn, env in environment(s).items():
        granted = refs(s.functions[fn].get("Policies", []))
        for name, value in sorted(env.items()):
            kinds = [kind for pattern, kind in ENV_TARGETS if pattern.search(name)]
            named = refs(value)
            many = [kind for pattern, kind in ENV_MULTI_TARGETS if pattern.search(name)]
            if many:
                wrong = sorted(n for n in named if s.resources.get(n, {}).get("Type") != many[0])
                if not named or wrong:
                    problems.append(f"{fn}: {name} = {value!r} names {wrong or 'nothing'}, not only {many[0]}s of this stack")
                elif not named <= granted:
                    problems.append(f"{fn}: {name} names {sorted(named - granted)}, which its policies do not grant")
                continue
            if not kinds:
                if not named or not named <= set(s.template.get("Parameters", {})):
                    problems.append(f"{fn}: {name} is neither a stack resource nor a parameter")
                continue
            resources = {n for n in named if s.resources.get(n, {}).get("Type") == kinds[0]}
            if len(resources) != 1:
                problems.append(f"{fn}: {name} = {value!r} does not name one {kinds[0]} of this stack")
            elif kinds[0] not in NON_IAM_TYPES and not resources <= granted:
                problems.append(f"{fn}: {name} names {resources.pop()}, which its policies do not grant")
    return problems


def is_wildcard_action(action: str) -> bool:
    return action == "*" or action.endswith(":*")


@check("every role's policies name only resources of this stack (no '*', except as justified)",
       lambda t: res(t, "LakeFunction")["Policies"].append({"S3ReadPolicy": {"BucketName": "someone-elses-bucket"}}))
def policies_name_stack_resources(s: Stack) -> list[str]:
    out = s.transformed()
    resources = set(out["Resources"])
    problems = []
    for role_name, role in out["Resources"].items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        props = role["Properties"]
        owner = role_name.removesuffix("Role")
        for arn in props.get("ManagedPolicyArns", []):
            policy = str(arn).split(":policy/", 1)[-1]
            if policy not in ALLOWED_MANAGED_POLICIES:
                problems.append(f"{role_name}: managed policy {policy} (not allowed)")
            elif policy.endswith("VPCAccessExecutionRole") and "VpcConfig" not in s.functions.get(owner, {}):
                problems.append(f"{role_name}: VPC access policy but {owner} is not in the VPC")
        for policy in props.get("Policies", []):
            for st in as_list(policy["PolicyDocument"]["Statement"]):
                if st.get("Effect") != "Allow":
                    continue
                actions = as_list(st.get("Action", []))
                problems += [f"{role_name}: wildcard action {a}" for a in actions if is_wildcard_action(a)]
                for resource in as_list(st.get("Resource", [])):
                    if refs(resource) & resources:
                        continue
                    justified = any(sub_text(resource) == allowed and all(p.match(a) for a in actions)
                                    for p, allowed in ALLOWED_ACCOUNT_RESOURCES)
                    if not justified:
                        problems.append(f"{role_name}: {actions} on {json.dumps(resource)}, not a resource of this stack")
    return problems


@check("functions that reach MySQL share one DATABASE_URL and run in the VPC behind the function security group",
       lambda t: res(t, "ChatFunction").pop("VpcConfig"))
def database_users_in_vpc(s: Stack) -> list[str]:
    problems = []
    urls = {json.dumps(env["DATABASE_URL"], sort_keys=True) for env in environment(s).values() if "DATABASE_URL" in env}
    if len(urls) > 1:
        problems.append(f"functions get different DATABASE_URLs: {sorted(urls)}")
    for fn, env in environment(s).items():
        vpc = s.functions[fn].get("VpcConfig")
        if "DATABASE_URL" in env and (not vpc or refs(vpc.get("SecurityGroupIds")) != {"FunctionSecurityGroup"}):
            problems.append(f"{fn}: reads MySQL but is not in the VPC with FunctionSecurityGroup")
        if "DATABASE_URL" not in env and vpc:
            problems.append(f"{fn}: in the VPC without needing MySQL (costs ENIs and NAT traffic)")
    return problems


@check("Glue tables match shared/lake/src/tables.rs (names, prefixes, columns, dt projection)",
       lambda t: res(t, "AudioFeaturesLakeTable")["TableInput"]["StorageDescriptor"]["Columns"].pop())
def glue_tables_match_lake(s: Stack) -> list[str]:
    tables, projection = lake_tables(s.root)
    dt = projection["partition"]
    glue = {p["TableInput"]["Name"]: p for p in s.of_type("AWS::Glue::Table").values()}
    problems = []
    if set(glue) != {t.sql_name for t in tables}:
        problems.append(f"Glue tables {sorted(glue)} != lake tables {sorted(t.sql_name for t in tables)}")
    # The lake's writer gets the bucket and no Athena workgroup; the Athena caller needs the
    # tables its SQL reads, through Glue and S3 (Athena uses the caller's permissions).
    writers = [fn for fn, env in environment(s).items() if "LAKE_BUCKET" in env and "ATHENA_WORKGROUP" not in env]
    queriers = [fn for fn, env in environment(s).items() if "ATHENA_WORKGROUP" in env]
    if not writers:
        problems.append("no function has LAKE_BUCKET without ATHENA_WORKGROUP: nothing writes the lake")
    read_by_sql = tables_read_by_sql(s.root, {t.sql_name for t in tables})
    logical = {p["TableInput"]["Name"]: n for n, p in s.of_type("AWS::Glue::Table").items()}
    for table in tables:
        p = glue.get(table.sql_name)
        if p is None:
            continue
        ti, sd = p["TableInput"], p["TableInput"]["StorageDescriptor"]
        columns = [(c["Name"], c["Type"]) for c in sd.get("Columns", [])]
        if columns != table.columns:
            problems.append(f"{table.sql_name}: columns {columns} != {table.const} {table.columns}")
        if ti.get("PartitionKeys") != [{"Name": dt, "Type": "string"}]:
            problems.append(f"{table.sql_name}: partition keys are not [{dt} string]")
        if refs(p.get("DatabaseName")) != {"LakeDatabase"}:
            problems.append(f"{table.sql_name}: not in LakeDatabase")
        location = f"s3://${{LakeBucket}}/{table.prefix}/"
        if sd.get("Location") != {"Fn::Sub": location}:
            problems.append(f"{table.sql_name}: Location is not {location}")
        params = ti.get("Parameters", {})
        want = {
            "projection.enabled": "true",
            f"projection.{dt}.type": "date",
            f"projection.{dt}.format": projection["format"],
            "storage.location.template": {"Fn::Sub": f"{location}{dt}=${{!{dt}}}/"},
        }
        problems += [f"{table.sql_name}: {k} is {params.get(k)!r}, want {v!r}" for k, v in want.items() if params.get(k) != v]
        if not str(params.get(f"projection.{dt}.range", "")).endswith("," + projection["range_end"]):
            problems.append(f"{table.sql_name}: projection.{dt}.range does not end at {projection['range_end']}")
        object_arn = {"Fn::Sub": f"${{LakeBucket.Arn}}/{table.prefix}/*"}
        for fn in writers:
            if not granted(s, fn, "s3:PutObject", object_arn):
                problems.append(f"{fn}: its policies do not let it put objects under {table.prefix}/ of the lake")
        if table.sql_name not in read_by_sql:
            continue
        glue_arn = {"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/"
                               f"${{LakeDatabase}}/${{{logical[table.sql_name]}}}"}
        for fn in queriers:
            if not granted(s, fn, "s3:GetObject", object_arn):
                problems.append(f"{fn}: its SQL reads {table.sql_name}, but it may not get objects under {table.prefix}/")
            if not granted(s, fn, "glue:GetTable", glue_arn):
                problems.append(f"{fn}: its SQL reads {table.sql_name}, but it may not read its Glue table")
    return problems


def statements(s: Stack, fn: str) -> list[dict]:
    return [st for p in s.functions[fn].get("Policies", []) if isinstance(p, dict) and "Statement" in p
            for st in as_list(p["Statement"])]


def granted(s: Stack, fn: str, action: str, resource: Any) -> bool:
    """Whether one of `fn`'s inline statements allows `action` on exactly `resource`."""
    return any(st.get("Effect") == "Allow" and action in as_list(st.get("Action"))
               and resource in as_list(st.get("Resource")) for st in statements(s, fn))


@check("top_tracks: keys as shared/store's DynamoDB adapter, on-demand, point-in-time recovery",
       lambda t: res(t, "TopTracksTable").pop("PointInTimeRecoverySpecification"))
def top_tracks_table(s: Stack) -> list[str]:
    pk, sk = dynamodb_keys(s.root)
    p = s.of_type("AWS::DynamoDB::Table").get("TopTracksTable")
    if p is None:
        return ["no TopTracksTable"]
    problems = []
    keys = {k["AttributeName"]: k["KeyType"] for k in p.get("KeySchema", [])}
    types = {a["AttributeName"]: a["AttributeType"] for a in p.get("AttributeDefinitions", [])}
    if keys != {pk: "HASH", sk: "RANGE"} or types != {pk: "S", sk: "N"}:
        problems.append(f"keys {keys} / {types}, want {pk} S HASH, {sk} N RANGE")
    if p.get("BillingMode") != "PAY_PER_REQUEST":
        problems.append("not on-demand")
    if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
        problems.append("point-in-time recovery off")
    return problems


@check("top_tracks: each function is granted exactly the DynamoDB calls it makes through shared/store's adapter",
       lambda t: res(t, "ChatFunction")["Policies"][0]["Statement"][0]["Action"].remove("dynamodb:GetItem"))
def top_tracks_grants_match_calls(s: Stack) -> list[str]:
    adapter = dynamodb_actions(s.root)
    out = s.transformed()
    granted: dict[str, set[str]] = {}
    for role_name, role in out["Resources"].items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        owner = role_name.removesuffix("Role")
        for policy in role["Properties"].get("Policies", []):
            for st in as_list(policy["PolicyDocument"]["Statement"]):
                if st.get("Effect") == "Allow" and "TopTracksTable" in refs(st.get("Resource", [])):
                    granted.setdefault(owner, set()).update(as_list(st.get("Action", [])))
    problems = []
    for fn in sorted(set(granted) | set(TOP_TRACKS_CALLS)):
        want, got = TOP_TRACKS_CALLS.get(fn, set()), granted.get(fn, set())
        if got != want:
            problems.append(f"{fn}: granted {sorted(got)} on TopTracksTable, but it calls {sorted(want)}")
    listed = set().union(*TOP_TRACKS_CALLS.values())
    if listed - adapter:
        problems.append(f"TOP_TRACKS_CALLS names {sorted(listed - adapter)}, which {DYNAMODB_RS} never calls")
    if adapter - listed:
        problems.append(f"{DYNAMODB_RS} calls {sorted(adapter - listed)}, which no function is granted")
    return problems


@check("lake bucket: encrypted, private, TLS only, Athena results expire; workgroup writes there with a cutoff",
       lambda t: t["Resources"].pop("LakeBucketPolicy"))
def lake_bucket_hardened(s: Stack) -> list[str]:
    p = s.of_type("AWS::S3::Bucket").get("LakeBucket", {})
    problems = []
    if not p.get("BucketEncryption"):
        problems.append("LakeBucket: no default encryption")
    block = p.get("PublicAccessBlockConfiguration", {})
    if [block.get(k) for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")] != [True] * 4:
        problems.append("LakeBucket: public access not fully blocked")
    tls_only = any(
        st.get("Effect") == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for bp in s.of_type("AWS::S3::BucketPolicy").values() if refs(bp.get("Bucket")) == {"LakeBucket"}
        for st in as_list(bp.get("PolicyDocument", {}).get("Statement", [])))
    if not tls_only:
        problems.append("LakeBucket: no policy denying requests without TLS")
    rules = p.get("LifecycleConfiguration", {}).get("Rules", [])
    if not any(r.get("Prefix") == "athena-results/" and r.get("ExpirationInDays") for r in rules):
        problems.append("LakeBucket: athena-results/ never expires")
    wg = s.of_type("AWS::Athena::WorkGroup").get("AthenaWorkGroup", {}).get("WorkGroupConfiguration", {})
    if wg.get("ResultConfiguration", {}).get("OutputLocation") != {"Fn::Sub": "s3://${LakeBucket}/athena-results/"}:
        problems.append("AthenaWorkGroup: results do not go to s3://LakeBucket/athena-results/")
    if not wg.get("BytesScannedCutoffPerQuery") or wg.get("EnforceWorkGroupConfiguration") is not True:
        problems.append("AthenaWorkGroup: no enforced bytes-scanned cutoff")
    return problems


# What the Athena caller does under the UNLOAD prefix: Athena writes the Parquet there with
# the caller's permissions, the adapter reads it back and deletes it. Listing is the bucket's
# s3:ListBucket, which Athena needs for the tables anyway.
UNLOAD_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
# Days after which the bucket expires what a run failed to delete under the UNLOAD prefix.
UNLOAD_EXPIRATION_DAYS = 1


@check("the Athena caller may put, get and delete under shared/lake's UNLOAD prefix, and that prefix expires in a day",
       lambda t: res(t, "LakeBucket")["LifecycleConfiguration"].update(
           Rules=[r for r in res(t, "LakeBucket")["LifecycleConfiguration"]["Rules"] if r.get("Id") != "expire-unloaded-results"]))
def unload_prefix_granted_and_expiring(s: Stack) -> list[str]:
    prefix = unload_prefix(s.root)
    problems = []
    rules = s.of_type("AWS::S3::Bucket").get("LakeBucket", {}).get("LifecycleConfiguration", {}).get("Rules", [])
    if not any(r.get("Prefix") == f"{prefix}/" and r.get("Status") == "Enabled"
               and r.get("ExpirationInDays") == UNLOAD_EXPIRATION_DAYS for r in rules):
        problems.append(f"LakeBucket: no enabled rule expiring {prefix}/ after {UNLOAD_EXPIRATION_DAYS} day")
    queriers = [fn for fn, env in environment(s).items() if "ATHENA_WORKGROUP" in env]
    if not queriers:
        problems.append("no function has ATHENA_WORKGROUP: nothing runs the UNLOAD")
    objects = {"Fn::Sub": f"${{LakeBucket.Arn}}/{prefix}/*"}
    for fn in queriers:
        if refs(environment(s)[fn].get("LAKE_BUCKET")) != {"LakeBucket"}:
            problems.append(f"{fn}: runs the UNLOAD but LAKE_BUCKET does not name LakeBucket")
        problems += [f"{fn}: may not {a} under {prefix}/ of the lake" for a in UNLOAD_ACTIONS
                     if not granted(s, fn, a, objects)]
    return problems


@check("POST /skill on the HTTP API reaches the chat function, and SkillUrl names it",
       lambda t: res(t, "ChatFunction")["Events"]["Skill"]["Properties"].update(Path="/skills"))
def skill_route(s: Stack) -> list[str]:
    routes = [(e["Properties"].get("Method"), e["Properties"].get("Path"), refs(e["Properties"].get("ApiId")))
              for e in s.functions.get("ChatFunction", {}).get("Events", {}).values() if e.get("Type") == "HttpApi"]
    problems = []
    if routes != [("POST", "/skill", {"SkillApi"})]:
        problems.append(f"ChatFunction routes {routes}, want POST /skill on SkillApi")
    url = s.template.get("Outputs", {}).get("SkillUrl", {}).get("Value", {})
    if not (isinstance(url, dict) and str(url.get("Fn::Sub", "")).startswith("https://${SkillApi}.execute-api.")
            and str(url.get("Fn::Sub")).endswith("/skill")):
        problems.append(f"Output SkillUrl is {url!r}")
    return problems


def called_services(s: Stack, fn: str) -> tuple[set[str], list[str]]:
    """The AWS services `fn` calls itself, derived from its policies; and the grants the
    tables above do not know (a problem: the table needs the new policy)."""
    services, unknown = set(), []
    for policy in s.functions[fn].get("Policies", []):
        if not isinstance(policy, dict):
            unknown.append(f"{fn}: policy {policy!r} (a managed policy by name)")
            continue
        for kind, body in policy.items():
            if kind == "Statement":
                for st in as_list(body):
                    if st.get("Effect") != "Allow":
                        continue
                    for action in as_list(st.get("Action", [])):
                        prefix = str(action).split(":", 1)[0]
                        if prefix not in ACTION_SERVICES:
                            unknown.append(f"{fn}: action {action} (add {prefix!r} to ACTION_SERVICES)")
                        elif ACTION_SERVICES[prefix]:
                            services.add(ACTION_SERVICES[prefix])
            elif kind in POLICY_TEMPLATE_SERVICES:
                if POLICY_TEMPLATE_SERVICES[kind]:
                    services.add(POLICY_TEMPLATE_SERVICES[kind])
            else:
                unknown.append(f"{fn}: policy template {kind} (add it to POLICY_TEMPLATE_SERVICES)")
    return services, unknown


def endpoint_service(p: dict) -> str:
    text = sub_text(p.get("ServiceName"))
    prefix = "com.amazonaws.${AWS::Region}."
    return text[len(prefix):] if text.startswith(prefix) else ""


def admits_https_from(s: Stack, groups: Any, source: str) -> bool:
    """Whether one of the security groups `groups` takes TCP 443 from security group `source`."""
    for group in refs(groups):
        for rule in s.resources.get(group, {}).get("Properties", {}).get("SecurityGroupIngress", []):
            if (rule.get("IpProtocol") == "tcp" and rule.get("FromPort", 0) <= 443 <= rule.get("ToPort", -1)
                    and refs(rule.get("SourceSecurityGroupId")) == {source}):
                return True
    return False


@check("every AWS service a VPC function calls (by its policies) has a VPC endpoint; only the internet callers use the NAT subnets",
       lambda t: t["Resources"].pop("SecretsManagerEndpoint"))
def vpc_functions_reach_their_services(s: Stack) -> list[str]:
    endpoints: dict[str, list[dict]] = {}
    for p in s.of_type("AWS::EC2::VPCEndpoint").values():
        endpoints.setdefault(endpoint_service(p), []).append(p)
    problems = []
    for fn, p in s.functions.items():
        vpc = p.get("VpcConfig")
        if not vpc:
            continue
        services, unknown = called_services(s, fn)
        problems += unknown
        internet = bool(INTERNET_KEYS & set(p.get("Environment", {}).get("Variables", {})))
        for service in sorted(services):
            if internet and service in NAT_SERVICES:
                continue
            gateway = service in GATEWAY_SERVICES
            routes = [e for e in endpoints.get(service, [])
                      if refs(e.get("VpcId")) == {"VpcId"}
                      and e.get("VpcEndpointType") == ("Gateway" if gateway else "Interface")
                      and (refs(e.get("RouteTableIds")) == {"RouteTableIds"} if gateway else
                           e.get("PrivateDnsEnabled") is True and refs(e.get("SubnetIds")) == {"SubnetIds"}
                           and all(admits_https_from(s, e.get("SecurityGroupIds"), g) for g in refs(vpc.get("SecurityGroupIds"))))]
            if not routes:
                kind = "gateway endpoint on RouteTableIds" if gateway else "interface endpoint (private DNS, SubnetIds, HTTPS from its security group)"
                problems.append(f"{fn} calls {service} but the VPC has no {kind} for it")
        subnets = refs(vpc.get("SubnetIds"))
        want = {"EgressSubnetIds"} if internet else {"SubnetIds"}
        if subnets != want:
            reason = "it calls the internet (through the operator's NAT)" if internet else "it needs no NAT"
            problems.append(f"{fn}: runs in {sorted(subnets)}, want {sorted(want)}: {reason}")
    return problems


@check("alarms: every consumed queue on its oldest message's age, chat failures on the metric the chat emits",
       lambda t: t["Resources"].pop("IngestOldestMessageAlarm"))
def health_alarms(s: Stack) -> list[str]:
    namespace, dimension, names = metric_names(s.root)
    alarms = [p for p in s.of_type("AWS::CloudWatch::Alarm").values() if p.get("AlarmActions")]
    problems = []
    for queue in mappings(s):
        watched = [p for p in alarms if p.get("Namespace") == "AWS/SQS"
                   and p.get("MetricName") == "ApproximateAgeOfOldestMessage"
                   and p.get("ComparisonOperator") == "GreaterThanThreshold"
                   and 0 < float(p.get("Threshold", 0)) <= MAX_OLDEST_MESSAGE_AGE
                   and any(get_att(d.get("Value")) == (queue, "QueueName") for d in p.get("Dimensions", []))]
        if not watched:
            problems.append(f"{queue}: no alarm (with an action) on ApproximateAgeOfOldestMessage <= {MAX_OLDEST_MESSAGE_AGE} s")
    chat = [p for p in alarms if p.get("Namespace") == namespace and p.get("MetricName") == names.get("CHAT_FAILED")
            and p.get("Dimensions") == [{"Name": dimension, "Value": "chat"}]
            and p.get("Statistic") == "Sum" and p.get("TreatMissingData") == "notBreaching"]
    if not chat:
        problems.append(f"no alarm (with an action) on the Sum of {namespace}/{names.get('CHAT_FAILED')} for {dimension}=chat")
    return problems


@check("custom-metric alarms use the namespace, dimension and metric names of shared/platform/src/metrics.rs",
       lambda t: res(t, "ChatFailuresAlarm").update(Namespace="Encore"))
def alarms_use_code_metrics(s: Stack) -> list[str]:
    namespace, dimension, names = metric_names(s.root)
    problems = []
    for name, p in s.of_type("AWS::CloudWatch::Alarm").items():
        ns = p.get("Namespace", "")
        if ns.startswith("AWS/"):
            continue
        if ns != namespace:
            problems.append(f"{name}: namespace {ns!r} is not the code's {namespace!r} ({METRICS_RS})")
            continue
        if p.get("MetricName") not in names.values():
            problems.append(f"{name}: metric {p.get('MetricName')!r} is not one of {METRICS_RS} `names`")
        if [d.get("Name") for d in p.get("Dimensions", [])] != [dimension]:
            problems.append(f"{name}: dimensions {p.get('Dimensions')} are not [{dimension}]")
    return problems


def name_is_stack_unique(s: Stack, value: Any) -> bool:
    """A physical name that differs between stacks: built from the stack name or id, or a
    parameter the operator chooses (either branch of an Fn::If)."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return all(name_is_stack_unique(s, branch) for branch in value["Fn::If"][1:])
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in s.template.get("Parameters", {}):
        return True
    text = json.dumps(value)
    return "AWS::StackName" in text or "AWS::StackId" in text


@check("no physical name collides when the stack is recreated (retained resources unnamed, the rest stack-scoped)",
       lambda t: res(t, "TopTracksTable").update(TableName="top_tracks"))
def names_do_not_collide(s: Stack) -> list[str]:
    problems = []
    for name, r in s.resources.items():
        path = NAME_PROPERTIES.get(r["Type"])
        if not path:
            continue
        value: Any = r.get("Properties", {})
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            continue
        if r.get("DeletionPolicy") == "Retain":
            problems.append(f"{name}: retained on delete but named {value!r}: a recreated stack would collide with it")
        elif not name_is_stack_unique(s, value):
            problems.append(f"{name}: fixed physical name {value!r} (use the stack name, or let CloudFormation name it)")
    return problems


def depends_on(resource: dict) -> set[str]:
    return set(as_list(resource.get("DependsOn", [])))


@check("the DatabaseSchema custom resource (migrate function) runs before every MySQL function, "
       "each of which uses a user of its own, never the master",
       lambda t: t["Resources"]["ChatFunction"].pop("DependsOn"))
def schema_before_functions(s: Stack) -> list[str]:
    problems = []
    schemas = {n: p for n, p in s.of_type(SCHEMA_RESOURCE_TYPE).items()}
    if len(schemas) != 1:
        return [f"{len(schemas)} {SCHEMA_RESOURCE_TYPE} resources, want one"]
    (schema, p), = schemas.items()
    if get_att(p.get("ServiceToken")) != (MIGRATE_FUNCTION, "Arn"):
        problems.append(f"{schema}: ServiceToken is not {MIGRATE_FUNCTION}.Arn")
    if not 1 <= int(p.get("ServiceTimeout", 3600)) <= 900:
        problems.append(f"{schema}: ServiceTimeout {p.get('ServiceTimeout')!r}: an hour of waiting on a failed migrate")
    # A property that changes with the migrate function's code, or a deploy of new
    # migrations would send no Update and migrate nothing.
    migrate = s.functions.get(MIGRATE_FUNCTION, {})
    if "AutoPublishAlias" not in migrate or f"{MIGRATE_FUNCTION}.Version" not in refs(p):
        problems.append(f"{schema}: no property names {MIGRATE_FUNCTION}.Version (with AutoPublishAlias): new code would not re-run it")
    wanted = schema_properties(s.root)
    given = set(p) - {"ServiceToken", "ServiceTimeout", "MigrateVersion"}
    if given != wanted:
        problems.append(f"{schema}: properties {sorted(given)} != {MIGRATE_RS} SchemaProperties {sorted(wanted)}")
    if "DatabaseProxyTargets" not in depends_on(s.resources[schema]) | refs(p):
        problems.append(f"{schema}: does not wait for DatabaseProxyTargets (the proxy has no database yet)")
    user_secrets = {}
    for name in wanted:
        named = refs(p.get(name))
        if len(named) != 1 or s.resources.get(next(iter(named)), {}).get("Type") != "AWS::SecretsManager::Secret":
            problems.append(f"{schema}: {name} is not one secret of this stack")
            continue
        user_secrets[name] = next(iter(named))
    proxy_secrets = set()
    for proxy in s.of_type("AWS::RDS::DBProxy").values():
        for auth in proxy.get("Auth", []):
            proxy_secrets |= refs(auth.get("SecretArn"))
    granted_to_migrate = refs(migrate.get("Policies", []))
    for secret in user_secrets.values():
        if secret not in proxy_secrets:
            problems.append(f"{secret}: not in the RDS Proxy's Auth, so its user cannot connect through it")
        if secret not in granted_to_migrate:
            problems.append(f"{MIGRATE_FUNCTION}: may not read {secret}")
    for fn, env in environment(s).items():
        if "DATABASE_URL" not in env:
            continue
        secret = next(iter(refs(env.get("DATABASE_SECRET_ARN"))), "")
        if fn == MIGRATE_FUNCTION:
            if secret != MASTER_SECRET:
                problems.append(f"{fn}: DATABASE_SECRET_ARN is {secret!r}, want the master {MASTER_SECRET}")
            continue
        if schema not in depends_on(s.resources[fn]):
            problems.append(f"{fn}: reads MySQL but does not DependsOn {schema} (it could start before the schema)")
        if secret == MASTER_SECRET or secret not in user_secrets.values():
            problems.append(f"{fn}: DATABASE_SECRET_ARN is {secret!r}, not one of the users {schema} creates")
    used = [next(iter(refs(env.get("DATABASE_SECRET_ARN"))), "") for fn, env in environment(s).items()
            if "DATABASE_URL" in env and fn != MIGRATE_FUNCTION]
    if len(used) != len(set(used)):
        problems.append(f"functions share a database user: {sorted(used)}")
    return problems


# The same check, broken in two more ways: a function on the master user, and a user the
# proxy cannot authenticate.
check("no function but migrate connects as the MySQL master user; no two share a user",
      lambda t: res(t, "ChatFunction")["Environment"]["Variables"].update(
          DATABASE_SECRET_ARN={"Ref": MASTER_SECRET}))(schema_before_functions)
check("the RDS Proxy authenticates every function user with its secret",
      lambda t: res(t, "DatabaseProxy").update(Auth=res(t, "DatabaseProxy")["Auth"][:1]))(schema_before_functions)


# ------------------------------------------------------------------ runner


def run_check(fn: Callable[[Stack], list[str]], stack: Stack) -> list[str]:
    try:
        return fn(stack)
    except CheckError as e:
        return [str(e)]


def main() -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=here.parent.parent, help="repository root")
    parser.add_argument("--template", type=Path, default=here.parent / "template.yaml")
    args = parser.parse_args()

    template = json.loads(json.dumps(cfn_yaml.load(str(args.template))))
    stack = Stack(template, args.root)
    passed = failed = 0
    for name, fn, breaks in CHECKS:
        problems = run_check(fn, stack)
        broken = copy.deepcopy(template)
        breaks(broken)
        caught = [p for p in run_check(fn, Stack(broken, args.root)) if p not in problems]
        if problems:
            failed += 1
            print(f"FAIL  {name}")
            for p in problems:
                print(f"        {p}")
        else:
            passed += 1
            print(f"ok    {name}")
        if caught:
            passed += 1
            print(f"ok    ... and fails on a broken copy: {caught[0]}")
        else:
            failed += 1
            print("FAIL  ... and a copy broken on purpose reports nothing new (the check cannot fail)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Checks the AWS SAM template (infra/template.yaml): cfn-lint (no errors, no unjustified
# warnings), then the wiring checks of infra/checks/wiring.py. Installs cfn-lint and
# aws-sam-translator into the git-ignored virtualenv .venv/stack (the one
# infra/local/stack.sh uses for moto) when absent. Idempotent; exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv/stack"
TEMPLATE="$ROOT/infra/template.yaml"

log() { printf '[infra-checks] %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import cfnlint, samtranslator' 2>/dev/null; then
  log "installing cfn-lint and aws-sam-translator into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'cfn-lint>=1.20,<2' 'aws-sam-translator>=1.90,<2'
fi

# Warnings count as failures too: the few the template accepts are silenced next to the
# resource they concern (Metadata cfn-lint ignore_checks), each with its reason.
log "cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}') on infra/template.yaml"
"$VENV/bin/cfn-lint" "$TEMPLATE"
log "cfn-lint: no errors, no warnings"

log "wiring checks"
"$VENV/bin/python" "$ROOT/infra/checks/wiring.py" --root "$ROOT" --template "$TEMPLATE"

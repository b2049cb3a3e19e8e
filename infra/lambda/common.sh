# Shared by build.sh and invoke.sh (sourced from the repository root).

# The functions of infra/template.yaml (their `Binary:` names) and the crate of each.
FUNCTIONS=(chat ingest lake similarity replay migrate)
package_of() {
  case "$1" in
    chat) echo encore-chat ;;
    ingest) echo encore-ingest ;;
    lake) echo encore-lake-service ;;
    similarity) echo encore-similarity-service ;;
    replay) echo encore-replay ;;
    migrate) echo encore-migrate ;;
    *) echo "unknown function $1 (expected one of: ${FUNCTIONS[*]})" >&2; return 1 ;;
  esac
}

# cargo-lambda and ziglang (its arm64 linker) from PyPI, in the git-ignored .venv/lambda.
LAMBDA_VENV=.venv/lambda
ensure_cargo_lambda() {
  if [ ! -x "$LAMBDA_VENV/bin/cargo-lambda" ] || ! "$LAMBDA_VENV/bin/python" -c 'import ziglang' 2>/dev/null; then
    python3 -m venv "$LAMBDA_VENV"
    "$LAMBDA_VENV/bin/pip" install --quiet cargo-lambda ziglang
  fi
  export PATH="$root/$LAMBDA_VENV/bin:$PATH"
}

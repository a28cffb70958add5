#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis, driven by the OpenAPI document the
# gateway serves (/api/v1/openapi.json), and fails on any 5xx answer.
#
# Starts a debug gateway on loopback with a fresh data directory (so the
# first start writes initial-credentials.txt), signs in as admin, creates
# an API token and runs schemathesis:
#   1. every operation except the live stream and the ones that may end the
#      fuzzer's own access (sign-out, password reset, account changes, token
#      revocation), with the Bearer token;
#   2. each of those last alone, as a spare admin created for it (it may
#      sign itself out; what follows then gets 401, which is fine: only 5xx
#      fail).
# GET /api/v1/live is a never-ending Server-Sent Events stream; its unit
# test (`http::tests::live`) covers it.
#
# schemathesis is installed from PyPI into target/fuzz-venv on first use.
# Extra arguments go to both schemathesis runs, e.g.
#   ./scripts/fuzz-api.sh --max-examples 50 --seed 1
# scripts/test.sh runs it with --max-examples 10 (about a minute).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET/fuzz-venv"
PORT="${FUZZ_PORT:-18080}"
BASE="http://127.0.0.1:$PORT"

if [ ! -x "$VENV/bin/schemathesis" ]; then
    echo "fuzz: installing schemathesis into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet schemathesis
fi

echo "fuzz: building the gateway (debug)" >&2
cargo build --offline -p gateway --bin gateway

DATA="$(mktemp -d)"
LOG="$DATA/gateway.log"
GATEWAY_PID=""
cleanup() {
    if [ -n "$GATEWAY_PID" ]; then
        kill "$GATEWAY_PID" 2>/dev/null || true
        wait "$GATEWAY_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT

# No GATEWAY_* from the caller's environment (passwords in particular: the
# first start must write them to the file).
while IFS= read -r var; do unset "$var"; done < <(env | grep -o '^GATEWAY_[A-Z_]*' || true)
"$TARGET/debug/gateway" \
    --http-listen "127.0.0.1:$PORT" \
    --sip-udp 127.0.0.1:0 --sip-tcp 127.0.0.1:0 \
    --advertised-address 127.0.0.1 \
    --data-dir "$DATA" --static-dir "$DATA/no-client" \
    --log-level warn >"$LOG" 2>&1 &
GATEWAY_PID=$!

for _ in $(seq 1 100); do
    if curl -fsS "$BASE/healthz" >/dev/null 2>&1; then break; fi
    sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null

ADMIN_PASSWORD="$(awk -F'\t' '$1 == "admin" { print $2 }' "$DATA/initial-credentials.txt")"
COOKIE="$(curl -fsS -o /dev/null -D - -H 'content-type: application/json' \
    --data "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}" \
    "$BASE/api/v1/session" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(gw_session=[^;]*\).*/\1/p')"
[ -n "$COOKIE" ] || { echo "fuzz: could not sign in as admin" >&2; exit 1; }
TOKEN="$(curl -fsS -H "cookie: $COOKIE" -H 'content-type: application/json' \
    --data '{"name":"schemathesis"}' "$BASE/api/v1/tokens" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"

# schemathesis keeps its example database and reports in the working
# directory: keep them out of the repository.
cd "$DATA"
status=0
echo "fuzz: pass 1 (Bearer token): all but the live stream and the self-ending operations" >&2
"$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json" \
    --checks not_a_server_error \
    -H "Authorization: Bearer $TOKEN" \
    --exclude-path /live \
    --exclude-name-regex '^(DELETE /session|POST /agents/\{id\}/password|PUT /agents/\{id\}|DELETE /tokens/\{id\})$' \
    --request-timeout 10 "$@" || status=$?

# A spare admin for each self-ending operation, made now (pass 1 cannot
# change, disable or sign out accounts). Each such operation can break a
# kind of credential (sign-out: its own cookie; token revocation: tokens;
# password reset: cookies; account changes: both), hence the order and the
# credentials: sign-out and revocation with cookies signed in now, the
# password reset with a cookie signed in just before it, and the account
# changes with a token made just before the password pass.
new_admin() {
    local name="$1" password
    password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
        --data "{\"username\":\"$name\",\"display_name\":\"$name\",\"role\":\"admin\",\"password\":\"$password\"}" \
        "$BASE/api/v1/agents"
    echo "$password"
}
sign_in() {
    curl -fsS -o /dev/null -D - -H 'content-type: application/json' \
        --data "{\"username\":\"$1\",\"password\":\"$2\"}" \
        "$BASE/api/v1/session" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(gw_session=[^;]*\).*/\1/p'
}
fuzz_one() {
    local n="$1" op="$2" header="$3"
    echo "fuzz: pass $n (a spare admin): $op" >&2
    "$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json" \
        --checks not_a_server_error \
        -H "$header" \
        --include-name-regex "^$op\$" \
        --request-timeout 10 "${EXTRA[@]}" || status=$?
}
EXTRA=("$@")
C1="$(sign_in fuzz-admin-1 "$(new_admin fuzz-admin-1)")"
C2="$(sign_in fuzz-admin-2 "$(new_admin fuzz-admin-2)")"
P3="$(new_admin fuzz-admin-3)"
new_admin fuzz-admin-4 >/dev/null
fuzz_one 2 'DELETE /session' "Cookie: $C1"
fuzz_one 3 'DELETE /tokens/\{id\}' "Cookie: $C2"
C3="$(sign_in fuzz-admin-3 "$P3")"
T4="$(curl -fsS -H "Cookie: $C3" -H 'content-type: application/json' \
    --data '{"name":"fuzz","account":"fuzz-admin-4"}' "$BASE/api/v1/tokens" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
fuzz_one 4 'POST /agents/\{id\}/password' "Cookie: $C3"
fuzz_one 5 'PUT /agents/\{id\}' "Authorization: Bearer $T4"

if grep -q '"internal error"\|internal error' "$LOG"; then
    echo "fuzz: the gateway logged internal errors:" >&2
    grep 'internal error' "$LOG" | sort | uniq -c | sort -rn | head -20 >&2
    status=1
fi
exit "$status"

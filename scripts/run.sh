#!/usr/bin/env bash
# Sets up the build tools, builds the web client and the gateway (release),
# and runs the gateway on 127.0.0.1: HTTP (web client, API, SIP WebSocket) on
# 127.0.0.1:8080, SIP on UDP and TCP 127.0.0.1:5060. The database is SQLite
# under ./data; the first start creates the accounts `admin` and `demo` and
# says where their passwords are (or takes them from GATEWAY_ADMIN_PASSWORD /
# GATEWAY_DEMO_PASSWORD). Extra arguments go to the gateway, e.g.
#   ./scripts/run.sh --http-listen 127.0.0.1:9090 --log-level debug

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"

echo "run: building the web client (trunk build --release --offline)" >&2
trunk build --release --offline
echo "run: building the gateway (cargo build --release -p gateway)" >&2
cargo build --release -p gateway

mkdir -p "$ROOT/data"
exec "$ROOT/target/release/gateway" --data-dir "$ROOT/data" --static-dir "$ROOT/dist" "$@"

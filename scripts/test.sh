#!/usr/bin/env bash
# Sets up everything the tests need and runs every check and test:
#   build tools (scripts/setup.sh), test peers (Debian's chromium,
#   chromium-driver, sip-tester, socat + openssl for the TLS carrier, coturn
#   for TURN, dnsmasq-base for the carrier DNS test, pebble, the test ACME CA,
#   prometheus for the metrics test;
#   JsSIP from npm in e2e/node, SIPVicious from PyPI in target/sv-venv,
#   cargo-deb from crates.io), then
#   fmt, clippy (native and wasm32), the client build, the gateway build and
#   `cargo test --workspace` (unit, integration and end-to-end tests).
# Prints how long each step took. Used by CI (.ci/run) and by developers.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
export ROOT SUDO

STEPS=()
TOTAL_START=$SECONDS

# step NAME COMMAND...: runs COMMAND, timing it; stops everything on failure.
# A shell function runs in a child bash, where `set -e` holds (bash ignores
# it inside a function called as `f || …`).
step() {
  local name="$1" start=$SECONDS status=0
  shift
  printf '\n==> %s\n' "$name"
  if declare -F "$1" >/dev/null; then
    bash -c "set -euo pipefail; $(declare -f); $*" || status=$?
  else
    "$@" || status=$?
  fi
  local took=$((SECONDS - start))
  STEPS+=("$(printf '%5ds  %s' "$took" "$name")")
  if [[ $status -ne 0 ]]; then
    printf '\n<== %s FAILED (exit %d) after %ds\n' "$name" "$status" "$took"
    summary
    exit "$status"
  fi
  printf '<== %s: %ds\n' "$name" "$took"
}

summary() {
  printf '\nstep timings:\n'
  printf '  %s\n' "${STEPS[@]}"
  printf '%7ds  total\n' "$((SECONDS - TOTAL_START))"
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local log
  log="$(mktemp)"
  echo "installing Debian packages: $*"
  # Update the package lists only when an install from them fails.
  if ! $SUDO apt-get install -y -qq "$@" >"$log" 2>&1; then
    echo "updating the package lists (apt-get update)"
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "$@"; } >"$log" 2>&1; then
      cat "$log"
      rm -f "$log"
      return 1
    fi
  fi
  rm -f "$log"
}

setup_test_peers() {
  local missing=() pkg
  # dnsmasq-base: the carrier DNS test's SRV/NAPTR server (the binary only, no service).
  # prometheus: the metrics test's scraper (and promtool).
  for pkg in chromium chromium-driver sip-tester socat openssl baresip-core coturn dnsmasq-base pebble prometheus; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v curl >/dev/null || missing+=(curl)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  if [[ ${#missing[@]} -gt 0 ]]; then
    apt_install "${missing[@]}"
  fi
}

setup_node_peers() {
  # npm ci only when package-lock.json changed since the last install.
  local dir="$ROOT/e2e/node" stamp want
  stamp="$dir/node_modules/.installed-lock.sha256"
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "installing e2e/node packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

# SIPVicious (PyPI) for the attack test (e2e/tests/sipvicious-is-banned.rs),
# into target/sv-venv; outside the namespace because pip needs PyPI.
setup_sipvicious() {
  local venv="${CARGO_TARGET_DIR:-$ROOT/target}/sv-venv"
  if [[ ! -x "$venv/bin/sipvicious_svwar" ]]; then
    echo "installing sipvicious into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet sipvicious
  fi
}

# cargo-deb for the package test (e2e/tests/debian-package.rs), pinned: the
# test packages the dev-profile binary (`--profile dev`), which cargo-deb
# 3.8 allows with a warning. About 2 minutes to build here, once.
setup_cargo_deb() {
  local version="3.8.0"
  if [[ "$(cargo-deb --version 2>/dev/null)" != "cargo-deb $version" ]]; then
    echo "installing cargo-deb $version"
    cargo install --locked --quiet cargo-deb --version "$version"
  fi
}

# The tests run in a network namespace of their own that has only loopback:
# nothing they start (gateway, Chromium, SIPp, JsSIP) can reach another
# address, and SIP answered at a Via's host stays on this machine.
run_tests() {
  if unshare --net true 2>/dev/null; then
    echo "running the tests in a network namespace with only loopback"
    unshare --net -- bash -c 'ip link set lo up && exec cargo test --locked --offline --workspace --features gateway/embed-client'
  else
    echo "warning: cannot make a network namespace (needs root); running the tests on the host network"
    cargo test --locked --offline --workspace --features gateway/embed-client
  fi
}

step "setup: build tools" "$ROOT/scripts/setup.sh"
# The tools on PATH for the steps below (~/.cargo/bin, wasm-opt).
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
step "setup: test peers (chromium, chromedriver, sipp, node)" setup_test_peers
step "setup: JsSIP (npm ci in e2e/node)" setup_node_peers
step "setup: SIPVicious (pip into target/sv-venv)" setup_sipvicious
step "setup: cargo-deb (the package test)" setup_cargo_deb
step "cargo fmt --check" cargo fmt --all --check
step "clippy (workspace, native)" cargo clippy --locked --workspace --all-targets -- -D warnings
step "clippy (client, wasm32)" cargo clippy --locked -p client --target wasm32-unknown-unknown -- -D warnings
step "check (shared, wasm32)" cargo check --locked -p shared --target wasm32-unknown-unknown
step "trunk build (client into dist/)" trunk build --release --offline
# With the client in dist/ compiled in (`embed-client`): the e2e tests pass
# --static-dir (which wins), the package test serves the embedded copy; the
# test step below builds with the same feature, so nothing is built twice.
step "build gateway (debug, client embedded, for the e2e tests)" cargo build --locked -p gateway --features embed-client
step "cargo test --workspace (loopback-only network namespace)" run_tests
# schemathesis (from PyPI, into target/fuzz-venv) against the OpenAPI
# document the gateway serves: every operation, 10 examples each; any 5xx
# fails. On loopback only; outside the namespace because pip needs PyPI.
step "API fuzz (schemathesis, no 5xx)" "$ROOT/scripts/fuzz-api.sh" --max-examples 10

summary

#!/usr/bin/env bash
# Installs the build tools the project needs, and nothing that is already
# there at the right version:
#   - the wasm32-unknown-unknown Rust target,
#   - Trunk 0.21.14 (the last release that builds with Rust 1.95),
#   - wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate in
#     Cargo.lock (Trunk.toml pins the same version, so Trunk never downloads),
#   - Node.js and npm (Debian's), which the client build needs: wasm-opt
#     comes from npm, and Trunk's post-build hook (scripts/precompress.mjs)
#     writes the brotli and gzip copies of the built files with Node's zlib,
#   - wasm-opt from the npm package `binaryen`, only if Trunk.toml asks for
#     one (`wasm_opt = "version_N"`), into .tools/ (Debian's binaryen cannot
#     read what rustc emits).
# Run it to install; `source` it to only put the tools on PATH (run.sh and
# test.sh do both). Quiet when everything is in place; says what it installs.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION="0.21.14"

if [[ -d "$HOME/.cargo/bin" && ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo is not on PATH (install Rust with rustup first)"
command -v rustup >/dev/null || die "rustup is not on PATH"

# The version of a package in Cargo.lock (the first entry with that name).
lock_version() {
  awk -v name="$1" '
    $0 == "name = \"" name "\"" { found = 1; next }
    found && /^version = / { gsub(/"/, "", $3); print $3; exit }
  ' "$ROOT/Cargo.lock"
}

setup_rust_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

setup_trunk() {
  local have=""
  if command -v trunk >/dev/null; then
    have="$(trunk --version 2>/dev/null | awk '{print $2}')"
  fi
  if [[ "$have" != "$TRUNK_VERSION" ]]; then
    say "installing trunk $TRUNK_VERSION (found: ${have:-none}); this takes several minutes"
    cargo install --locked trunk --version "$TRUNK_VERSION"
  fi
}

setup_wasm_bindgen() {
  local want have="" pinned
  want="$(lock_version wasm-bindgen)"
  [[ -n "$want" ]] || die "no wasm-bindgen package in Cargo.lock"
  # Trunk.toml must name the same version, or Trunk would try to download it.
  pinned="$(sed -n 's/^[[:space:]]*wasm_bindgen[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$ROOT/Trunk.toml")"
  [[ "$pinned" == "$want" ]] ||
    die "Trunk.toml pins wasm_bindgen = \"$pinned\" but Cargo.lock has wasm-bindgen $want: make them equal"
  if command -v wasm-bindgen >/dev/null; then
    have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')"
  fi
  if [[ "$have" != "$want" ]]; then
    say "installing wasm-bindgen-cli $want (found: ${have:-none})"
    # Not --locked: its lock file names a webpki-roots release the registry
    # no longer serves (see shared/NOTES.md).
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

setup_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  say "installing Node.js and npm (Debian packages nodejs, npm)"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq nodejs npm >/dev/null ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm >/dev/null; } ||
    die "could not install nodejs and npm with apt-get"
}

# The binaryen version Trunk.toml asks for (`wasm_opt = "version_N"`), if any.
wasm_opt_version() {
  sed -n 's/^[[:space:]]*wasm_opt[[:space:]]*=[[:space:]]*"version_\([0-9]*\)".*/\1/p' "$ROOT/Trunk.toml"
}

setup_wasm_opt() {
  local version dir
  version="$(wasm_opt_version)"
  [[ -n "$version" ]] || return 0
  dir="$ROOT/.tools/binaryen-$version"
  if [[ ! -x "$dir/node_modules/.bin/wasm-opt" ]]; then
    say "installing wasm-opt $version (npm package binaryen) into ${dir#"$ROOT"/}"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "binaryen@$version" >/dev/null
  fi
}

WASM_OPT_VERSION="$(wasm_opt_version)"
if [[ -n "$WASM_OPT_VERSION" ]]; then
  PATH="$ROOT/.tools/binaryen-$WASM_OPT_VERSION/node_modules/.bin:$PATH"
  export PATH
fi

# Executed (not sourced): install what is missing.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  setup_rust_target
  setup_trunk
  setup_wasm_bindgen
  setup_node
  setup_wasm_opt
fi

#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer, AddressSanitizer) of every
# reader of bytes from strangers: SIP messages and TCP framing, message
# sequences against the SIP transactions, digest
# headers, phone numbers (shared/), carrier SDP, the carrier leg's RTP, RTCP,
# SRTP/SRTCP and the B2BUA's header readers (gateway/). The target bodies
# are `shared::fuzz` and `gateway::fuzz`; `fuzz/` is the nightly-only crate
# around them, outside the workspace.
#
# Not part of CI (slow, and nightly): the checked-in corpus runs on stable
# in every `cargo test` (shared/tests/fuzz_corpus.rs, gateway::fuzz::tests).
#
# Usage: scripts/fuzz.sh [TARGET...]        (default: every target)
#   FUZZ_SECONDS=60    time per target (a long run: FUZZ_SECONDS=600 or more)
#   FUZZ_TOOLCHAIN=nightly-2026-05-20   the pinned nightly (rustup installs it
#                      if missing: the toolchain comes from the Rust project's
#                      own distribution server, which rustup reaches here; a
#                      machine that cannot reach it cannot run this script)
#   FUZZ_WORK=fuzz/target/work   where the growing corpora live (not in git)
#
# Findings land in fuzz/artifacts/<target>/ (crash-*, timeout-*, oom-*).
# Reproduce one with `cargo +nightly-2026-05-20 fuzz run TARGET FILE`
# (add `--features gateway` for a gateway target); once fixed, copy the
# input into fuzz/corpus/<target>/ so the stable test keeps it fixed.
# Exits 1 when any target found something.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"

TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly-2026-05-20}"
CARGO_FUZZ_VERSION="0.13.2"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
WORK="${FUZZ_WORK:-$ROOT/fuzz/target/work}"

SHARED_TARGETS=(sip_message sip_stream sip_transactions digest phone_number)
GATEWAY_TARGETS=(carrier_sdp carrier_media carrier_srtp sip_headers)

if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    echo "fuzz: installing the $TOOLCHAIN toolchain" >&2
    rustup toolchain install "$TOOLCHAIN" --profile minimal
fi
if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION"; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

is_gateway_target() {
    local t
    for t in "${GATEWAY_TARGETS[@]}"; do
        [ "$t" = "$1" ] && return 0
    done
    return 1
}

if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=("${SHARED_TARGETS[@]}" "${GATEWAY_TARGETS[@]}")
fi
for t in "${TARGETS[@]}"; do
    if [ ! -f "fuzz_targets/$t.rs" ]; then
        echo "fuzz: no target $t (have: ${SHARED_TARGETS[*]} ${GATEWAY_TARGETS[*]})" >&2
        exit 2
    fi
done

# Build first, so that build time does not eat into the fuzzing time.
NEED_GATEWAY=0
for t in "${TARGETS[@]}"; do
    if is_gateway_target "$t"; then NEED_GATEWAY=1; fi
done
echo "fuzz: building the targets ($TOOLCHAIN)" >&2
if [ "$NEED_GATEWAY" = 1 ]; then
    cargo "+$TOOLCHAIN" fuzz build --features gateway
else
    cargo "+$TOOLCHAIN" fuzz build
fi

mkdir -p "$WORK/logs"
SUMMARY=()
FOUND=0
for t in "${TARGETS[@]}"; do
    # The features of the build above, so that `run` does not rebuild.
    features=()
    if [ "$NEED_GATEWAY" = 1 ]; then features=(--features gateway); fi
    # Seeds: the checked-in corpus, and for SIP the RFC 4475 torture
    # messages. New inputs go to the work corpus only.
    seeds=("$ROOT/fuzz/corpus/$t")
    case "$t" in
        sip_message | sip_stream | sip_headers | sip_transactions) seeds+=("$ROOT/shared/tests/data/rfc4475") ;;
    esac
    mkdir -p "$WORK/corpus/$t" "$ROOT/fuzz/artifacts/$t"
    log="$WORK/logs/$t.log"
    before=$(find "$ROOT/fuzz/artifacts/$t" -type f | wc -l)
    echo "fuzz: $t for ${SECONDS_EACH}s" >&2
    status=0
    cargo "+$TOOLCHAIN" fuzz run "${features[@]}" "$t" "$WORK/corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$ROOT/fuzz/artifacts/$t/" \
        >"$log" 2>&1 || status=$?
    after=$(find "$ROOT/fuzz/artifacts/$t" -type f | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    findings=$((after - before))
    if [ "$status" != 0 ] && [ "$findings" = 0 ]; then
        findings="? (exit $status, see $log)"
    fi
    if [ "$findings" != 0 ]; then FOUND=1; fi
    SUMMARY+=("$(printf '%-14s %12s execs %8s/s  findings: %s' "$t" "${execs:-?}" "${rate:-?}" "$findings")")
done

echo
echo "fuzz: ${SECONDS_EACH}s per target; logs in $WORK/logs"
printf '%s\n' "${SUMMARY[@]}"
if [ "$FOUND" = 1 ]; then
    echo "fuzz: findings in $ROOT/fuzz/artifacts/" >&2
    exit 1
fi

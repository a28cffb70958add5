#!/usr/bin/env bash
# The side-by-side benchmark: the same load harness (e2e/src/bin/loadgen.rs)
# against our gateway and against Kamailio (websocket) + rtpengine in
# userspace, in one run, on this machine's loopback inside a network
# namespace of its own. Installs what it needs, prints one table.
#
#   scripts/bench-side-by-side.sh                       # steps 50,100, 10 s held
#   scripts/bench-side-by-side.sh --steps 100,200,400 --rate 50 --hold 15
#
# Arguments go to loadgen (`--help` lists them). Bounded: it ends after
# the last step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need+=(kamailio)
[ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/websocket.so ] || need+=(kamailio-websocket-modules)
command -v rtpengine >/dev/null 2>&1 || [ -x /usr/bin/rtpengine ] || need+=(rtpengine-daemon)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing the anchor: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Neither may run as a system service meanwhile (the harness starts its own).
for svc in kamailio rtpengine-daemon; do
  $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
done

cargo build --release --locked -p gateway --bin gateway
cargo build --release --locked -p e2e --bin loadgen
export GATEWAY_BIN="$ROOT/target/release/gateway"
# A namespace with loopback only: nothing the run sends can leave it.
exec $SUDO unshare --net -- env GATEWAY_BIN="$GATEWAY_BIN" bash -c \
  'ip link set lo up && { ulimit -n 65536 2>/dev/null || true; } && exec "$0" "$@"' "$ROOT/target/release/loadgen" "$@"

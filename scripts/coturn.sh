#!/usr/bin/env bash
# Starts coturn (Debian package `coturn`) as the TURN server the gateway
# hands browsers, in the foreground, with TURN REST credentials: the gateway
# and coturn share TURN_SECRET, and each browser gets a username that
# expires with its session (no user database in coturn).
#
#   TURN_SECRET=$(openssl rand -hex 32) PUBLIC_IP=203.0.113.10 scripts/coturn.sh
#
# then start the gateway with
#   GATEWAY_TURN_SECRET=$TURN_SECRET gateway --turn-urls "turn:$PUBLIC_IP:3478?transport=udp,turn:$PUBLIC_IP:3478?transport=tcp"
#
# Settings (environment): TURN_SECRET (required), PUBLIC_IP (the address
# browsers reach, required), LISTEN_IP (default: PUBLIC_IP; behind 1:1 NAT
# give the private address here and the public one in PUBLIC_IP), PORT
# (3478), RELAY_PORTS (49152-65535), REALM (turn.invalid).
set -euo pipefail

: "${TURN_SECRET:?set TURN_SECRET (e.g. openssl rand -hex 32), the same as GATEWAY_TURN_SECRET}"
: "${PUBLIC_IP:?set PUBLIC_IP, the address browsers reach the TURN server at}"
LISTEN_IP="${LISTEN_IP:-$PUBLIC_IP}"
PORT="${PORT:-3478}"
RELAY_PORTS="${RELAY_PORTS:-49152-65535}"
REALM="${REALM:-turn.invalid}"

command -v turnserver >/dev/null || {
  echo "turnserver is missing: sudo apt-get install coturn" >&2
  exit 1
}
if [[ ${#TURN_SECRET} -lt 16 ]]; then
  echo "TURN_SECRET is too short: use at least 16 characters" >&2
  exit 1
fi

external="$PUBLIC_IP"
[[ "$LISTEN_IP" != "$PUBLIC_IP" ]] && external="$PUBLIC_IP/$LISTEN_IP"

# The secret goes in a file readable by this user only, not on the command
# line (where `ps` would show it).
conf="$(mktemp)"
trap 'rm -f "$conf"' EXIT
chmod 600 "$conf"
cat >"$conf" <<CONF
use-auth-secret
static-auth-secret=$TURN_SECRET
realm=$REALM
listening-ip=$LISTEN_IP
relay-ip=$LISTEN_IP
external-ip=$external
listening-port=$PORT
min-port=${RELAY_PORTS%-*}
max-port=${RELAY_PORTS#*-}
fingerprint
no-cli
no-multicast-peers
no-tlsv1
no-tlsv1_1
# Browsers relay media to the gateway only: no relaying into private
# networks that are not the gateway's (add allowed-peer-ip for a gateway on
# a private address).
denied-peer-ip=10.0.0.0-10.255.255.255
denied-peer-ip=172.16.0.0-172.31.255.255
denied-peer-ip=192.168.0.0-192.168.255.255
denied-peer-ip=169.254.0.0-169.254.255.255
denied-peer-ip=100.64.0.0-100.127.255.255
CONF
echo "coturn on $LISTEN_IP:$PORT (public $PUBLIC_IP), relays $RELAY_PORTS, realm $REALM"
turnserver -c "$conf" --log-file stdout

// JsSIP, a third-party SIP-over-WebSocket client, registers with the gateway.
//
//   node register.mjs --base http://127.0.0.1:PORT --username demo --password SECRET
//
// 1. Signs in over HTTP (POST /api/v1/session) to get the short-lived SIP
//    digest credential, as the browser client does.
// 2. "right": a JsSIP UA registers with that credential, then unregisters.
// 3. "wrong": a JsSIP UA registers with the same identity but a wrong
//    password, and must be refused.
// Prints one JSON object with what happened; the Rust test judges it.
// Exits 0 whenever it could report, 2 on bad usage, 1 on a crash.

import JsSIP from 'jssip';
import WebSocket from 'ws';

// JsSIP.WebSocketInterface uses the browser's global WebSocket.
globalThis.WebSocket = WebSocket;
// E2E_JSSIP_DEBUG=1 prints JsSIP's own trace to stderr.
if (process.env.E2E_JSSIP_DEBUG) {
  JsSIP.debug.enable('JsSIP:*');
} else {
  JsSIP.debug.disable('JsSIP:*');
}

const PHASE_TIMEOUT_MS = 15000;

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!key.startsWith('--') || value === undefined) {
      console.error(`usage: node register.mjs --base URL --username NAME --password SECRET`);
      process.exit(2);
    }
    args[key.slice(2)] = value;
  }
  for (const required of ['base', 'username', 'password']) {
    if (!args[required]) {
      console.error(`missing --${required}`);
      process.exit(2);
    }
  }
  return args;
}

async function signIn(base, username, password) {
  const response = await fetch(`${base}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

// Runs one UA until it registers or fails; if it registered, unregisters it.
// Resolves with a plain object describing what happened.
function register(wsUrl, credential, password) {
  return new Promise((resolve) => {
    const result = { outcome: 'timeout', events: [] };
    let ua;
    let done = false;
    const finish = (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      result.outcome = outcome;
      try {
        ua.stop();
      } catch (e) {
        result.events.push(`stop failed: ${e}`);
      }
      // Let the socket close before the next phase.
      setTimeout(() => resolve(result), 200);
    };
    const timer = setTimeout(() => finish('timeout'), PHASE_TIMEOUT_MS);

    const socket = new JsSIP.WebSocketInterface(wsUrl);
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: credential.aor,
      authorization_user: credential.username,
      password,
      realm: credential.realm,
      display_name: credential.display_name,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'e2e JsSIP',
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 4,
    });
    ua.on('connected', () => result.events.push('connected'));
    ua.on('disconnected', (e) => {
      result.events.push(`disconnected${e && e.error ? ' (error)' : ''}`);
      if (!result.registered_status) finish('disconnected');
    });
    ua.on('registered', (e) => {
      result.events.push('registered');
      result.registered_status = e.response.status_code;
      result.contact = e.response.getHeader('Contact');
      result.expires = e.response.getHeader('Expires');
      ua.unregister();
    });
    ua.on('unregistered', (e) => {
      result.events.push('unregistered');
      result.unregistered_status = e.response ? e.response.status_code : null;
      finish('registered');
    });
    ua.on('registrationFailed', (e) => {
      result.events.push('registrationFailed');
      result.failed_status = e.response ? e.response.status_code : null;
      result.cause = e.cause;
      finish('failed');
    });
    ua.start();
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const base = args.base.replace(/\/$/, '');
  const wsUrl = `${base.replace(/^http/, 'ws')}/ws`;
  const report = { jssip_version: JsSIP.version };

  const signin = await signIn(base, args.username, args.password);
  report.signin_status = signin.status;
  if (signin.status !== 200 || !signin.body || !signin.body.sip) {
    report.signin_body = signin.body;
    console.log(JSON.stringify(report));
    return;
  }
  const credential = signin.body.sip;
  report.aor = credential.aor;
  report.realm = credential.realm;

  report.right = await register(wsUrl, credential, credential.password);
  report.wrong = await register(wsUrl, credential, `${credential.password}-wrong`);
  console.log(JSON.stringify(report));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  },
);

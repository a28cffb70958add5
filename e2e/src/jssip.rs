//! JsSIP as a third-party phone inside headless Chromium. In Node JsSIP
//! can register but not take a call (Node has no `RTCPeerConnection`), so
//! the tests that need a real third-party callee run it in a browser tab:
//! [`JsSip::start`] loads JsSIP into a page of the gateway's origin, starts
//! a `JsSIP.UA` that registers over the gateway's WebSocket, and keeps what
//! happens in `window.__jssip` for Rust to read.
//!
//! JsSIP 3.13 on npm ships only its CommonJS sources (`lib/`), no browser
//! bundle, so [`bundle`] makes one: it follows the `require` calls from
//! `jssip/lib/JsSIP.js` through `e2e/node/node_modules` (taking a
//! package's `browser` entry over `main`, as browser bundlers do) and wraps
//! every module in a function of a small registry. A `dist/jssip.min.js`,
//! if an install has one, is used as it is.
//!
//! `window.__jssip.state` is one of `starting`, `registered`, `ringing`
//! (an INVITE came: `caller` and `did` are set), `confirmed` (answered and
//! ACKed), `ended`, `failed` (`cause` says why: JsSIP's cause names, e.g.
//! `Canceled`, `Rejected`, `Authentication Error`).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::Client;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::api::SipCredential;

/// `e2e/node/node_modules`, where `npm ci` puts JsSIP.
pub fn node_modules() -> PathBuf {
    if let Some(dir) = std::env::var_os("E2E_NODE_MODULES") {
        return PathBuf::from(dir);
    }
    crate::workspace_root().join("e2e/node/node_modules")
}

/// What the page's JsSIP UA reports.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct JsSipState {
    pub state: String,
    /// Why it failed or ended (JsSIP's `cause`).
    pub cause: Option<String>,
    /// The From of the incoming INVITE: its URI user (the number) and
    /// display name.
    pub caller: Option<String>,
    pub caller_name: Option<String>,
    /// `X-Dialer-DID` and `X-Dialer-DID-Label` of the incoming INVITE.
    pub did: Option<String>,
    pub did_label: Option<String>,
    /// The final response to a call the UA placed ([`JsSip::call`]) that
    /// failed: its status code and reason phrase.
    pub status: Option<u16>,
    pub reason: Option<String>,
    /// Everything that happened, in order, for error messages.
    #[serde(default)]
    pub events: Vec<String>,
}

/// A JsSIP UA running in a page. Cheap: it holds a clone of the WebDriver
/// client; the UA lives as long as the page.
#[derive(Clone)]
pub struct JsSip {
    client: Client,
}

impl JsSip {
    /// Loads JsSIP into the current page (which must be of the gateway's
    /// origin, so the page may open `ws_url`), and starts a UA that
    /// registers as `credential` (the `sip` part of `POST /api/v1/session`).
    pub async fn start(client: &Client, ws_url: &str, credential: &SipCredential) -> Result<JsSip> {
        let library = load_library()?;
        client
            .execute(&library, vec![])
            .await
            .context("loading JsSIP into the page")?;
        let loaded = client
            .execute(
                "return typeof window.JsSIP === 'object' && !!window.JsSIP.UA;",
                vec![],
            )
            .await?;
        if loaded != Value::Bool(true) {
            bail!("JsSIP did not load into the page (window.JsSIP.UA is missing)");
        }
        let config = json!({
            "ws": ws_url,
            "uri": credential.aor,
            "user": credential.username,
            "password": credential.password,
            "realm": credential.realm,
            "display_name": credential.display_name,
        });
        client
            .execute(DRIVER, vec![config])
            .await
            .context("starting the JsSIP UA in the page")?;
        Ok(JsSip {
            client: client.clone(),
        })
    }

    /// The UA's state now.
    pub async fn state(&self) -> Result<JsSipState> {
        let value = self
            .client
            .execute(
                "return window.__jssip ? window.__jssip.view() : null;",
                vec![],
            )
            .await
            .context("reading window.__jssip")?;
        if value.is_null() {
            bail!("window.__jssip is gone (did the page navigate away?)");
        }
        Ok(serde_json::from_value(value)?)
    }

    /// Waits until the state is `want`; fails at once on `failed` (unless
    /// that is what is wanted) and when `timeout` passes.
    pub async fn wait_state(&self, want: &str, timeout: Duration) -> Result<JsSipState> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let state = self.state().await?;
            if state.state == want {
                return Ok(state);
            }
            if state.state == "failed" {
                bail!("JsSIP failed while waiting for {want:?}: {state:?}");
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("JsSIP did not reach {want:?} within {timeout:?}: {state:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Answers the ringing call (microphone: Chromium's fake device).
    pub async fn answer(&self) -> Result<()> {
        let answered = self
            .client
            .execute("return window.__jssip.answer();", vec![])
            .await?;
        match answered {
            Value::Bool(true) => Ok(()),
            other => bail!("JsSIP could not answer: {other}"),
        }
    }

    /// Places a call to `target` (a number or SIP URI; a number goes to
    /// the UA's domain). Its progress shows in [`JsSip::state`]: `calling`,
    /// then `confirmed`, `ended` or `failed` (with `status` and `reason`).
    pub async fn call(&self, target: &str) -> Result<()> {
        let placed = self
            .client
            .execute(
                "return window.__jssip.call(arguments[0]);",
                vec![json!(target)],
            )
            .await?;
        match placed {
            Value::Bool(true) => Ok(()),
            other => bail!("JsSIP could not call {target}: {other}"),
        }
    }

    /// Declines a ringing call (`486`), or hangs up an answered one (BYE).
    pub async fn hangup(&self) -> Result<()> {
        self.client
            .execute("window.__jssip.hangup(); return true;", vec![])
            .await?;
        Ok(())
    }

    /// Inbound audio RTP packets of the call so far (`getStats()`
    /// `inbound-rtp`), 0 before there is a peer connection.
    pub async fn inbound_packets(&self) -> Result<u64> {
        let value = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 window.__jssip.inbound().then(done, () => done(0));",
                vec![],
            )
            .await
            .context("reading JsSIP's getStats()")?;
        value
            .as_u64()
            .ok_or_else(|| anyhow!("getStats() gave {value}"))
    }
}

/// The script that defines `window.JsSIP`: the npm package's browser bundle
/// if it has one, else [`bundle`] of its CommonJS sources.
fn load_library() -> Result<String> {
    let modules = node_modules();
    let dist = modules.join("jssip/dist/jssip.min.js");
    if dist.is_file() {
        let text = std::fs::read_to_string(&dist)
            .with_context(|| format!("reading {}", dist.display()))?;
        return Ok(format!("{text}\n;window.JsSIP = window.JsSIP || JsSIP;"));
    }
    if !modules.join("jssip/lib/JsSIP.js").is_file() {
        bail!(
            "JsSIP is not installed in {}: run `npm ci` in e2e/node (scripts/test.sh does)",
            modules.display()
        );
    }
    bundle(&modules, "jssip/lib/JsSIP.js", "JsSIP")
}

/// A browser script that sets `window[global]` to the exports of the
/// CommonJS module `entry` (a path under `modules`), with every module it
/// requires, transitively, inlined. Requires that cannot be resolved (Node
/// built-ins on code paths a browser never takes) throw when called.
pub fn bundle(modules: &Path, entry: &str, global: &str) -> Result<String> {
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    let mut links: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut queue = VecDeque::from([entry.to_owned()]);
    while let Some(id) = queue.pop_front() {
        if sources.contains_key(&id) {
            continue;
        }
        let path = modules.join(&id);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut resolved = BTreeMap::new();
        for spec in requires(&text) {
            if let Some(target) = resolve(modules, &id, &spec) {
                queue.push_back(target.clone());
                resolved.insert(spec, target);
            }
        }
        let body = if id.ends_with(".json") {
            format!("module.exports = {text};")
        } else {
            text
        };
        sources.insert(id.clone(), body);
        links.insert(id, resolved);
    }
    let mut out = String::from(
        "(function () {\nvar global = window; var process = { env: {}, browser: true };\nvar defs = {};\n",
    );
    for (id, body) in &sources {
        out.push_str(&format!(
            "defs[{}] = function (module, exports, require) {{\n{body}\n}};\n",
            serde_json::to_string(id)?
        ));
    }
    out.push_str(&format!(
        "var links = {};\nvar cache = {{}};\n\
         function load(id) {{\n\
           if (cache[id]) return cache[id].exports;\n\
           var module = {{ exports: {{}} }};\n\
           cache[id] = module;\n\
           defs[id].call(module.exports, module, module.exports, function (spec) {{\n\
             var target = links[id][spec];\n\
             if (!target) throw new Error('module ' + spec + ' is not in the bundle (from ' + id + ')');\n\
             return load(target);\n\
           }});\n\
           return module.exports;\n\
         }}\n\
         window[{}] = load({});\n}})();\n",
        serde_json::to_string(&links)?,
        serde_json::to_string(global)?,
        serde_json::to_string(entry)?,
    ));
    Ok(out)
}

/// The string literals of `require('…')` calls in `source`.
fn requires(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("require(") {
        rest = &rest[at + "require(".len()..];
        let trimmed = rest.trim_start();
        let Some(quote) = trimmed.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        let inner = &trimmed[1..];
        if let Some(end) = inner.find(quote) {
            let spec = &inner[..end];
            if !spec.is_empty() && !spec.contains('\n') && !found.iter().any(|f| f == spec) {
                found.push(spec.to_owned());
            }
        }
    }
    found
}

/// The module id (a path under `modules`, `/`-separated) that `spec`
/// names when required from module `from`.
fn resolve(modules: &Path, from: &str, spec: &str) -> Option<String> {
    if spec.starts_with("./") || spec.starts_with("../") {
        let dir = from.rsplit_once('/').map_or("", |(dir, _)| dir);
        let joined = normalize(&format!("{dir}/{spec}"))?;
        return as_file(modules, &joined);
    }
    // A package: `name` or `name/sub/path` (no scoped packages here).
    let (name, sub) = spec
        .split_once('/')
        .map_or((spec, None), |(n, s)| (n, Some(s)));
    let package_dir = modules.join(name);
    if !package_dir.is_dir() {
        return None;
    }
    if let Some(sub) = sub {
        return as_file(modules, &format!("{name}/{sub}"));
    }
    let manifest: Value = std::fs::read_to_string(package_dir.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let main = manifest["browser"]
        .as_str()
        .or_else(|| manifest["main"].as_str())
        .unwrap_or("index.js");
    as_file(modules, &normalize(&format!("{name}/{main}"))?)
}

/// `id`, `id.js`, `id.json` or `id/index.js`, whichever exists.
fn as_file(modules: &Path, id: &str) -> Option<String> {
    let id = id.trim_end_matches('/');
    [
        id.to_owned(),
        format!("{id}.js"),
        format!("{id}.json"),
        format!("{id}/index.js"),
    ]
    .into_iter()
    .find(|candidate| modules.join(candidate).is_file())
}

/// Resolves `.` and `..` segments; `None` if the path leaves the root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Starts the UA; `arguments[0]` is the configuration.
const DRIVER: &str = r#"
const config = arguments[0];
const s = {
  state: 'starting', cause: null, caller: null, caller_name: null, did: null,
  did_label: null, events: [], session: null, status: null, reason: null,
};
window.__jssip = s;
const note = (what) => { s.events.push(what); };
s.view = () => ({
  state: s.state, cause: s.cause, caller: s.caller, caller_name: s.caller_name,
  did: s.did, did_label: s.did_label, status: s.status, reason: s.reason,
  events: s.events.slice(-40),
});
JsSIP.debug.disable('JsSIP:*');
const socket = new JsSIP.WebSocketInterface(config.ws);
const ua = new JsSIP.UA({
  sockets: [socket],
  uri: config.uri,
  authorization_user: config.user,
  password: config.password,
  realm: config.realm,
  display_name: config.display_name,
  register: true,
  register_expires: 300,
  session_timers: false,
  user_agent: 'e2e JsSIP in Chromium',
});
s.ua = ua;
ua.on('connected', () => note('connected'));
ua.on('disconnected', () => note('disconnected'));
ua.on('registered', () => {
  note('registered');
  if (s.state === 'starting') s.state = 'registered';
});
ua.on('registrationFailed', (e) => {
  note('registrationFailed ' + e.cause);
  s.state = 'failed';
  s.cause = String(e.cause);
});
ua.on('newRTCSession', (e) => {
  if (e.originator !== 'remote') return;
  const session = e.session;
  if (s.session && !s.session.isEnded()) {
    note('second INVITE while busy');
    session.terminate({ status_code: 486 });
    return;
  }
  s.session = session;
  const from = session.remote_identity;
  s.caller = from && from.uri ? String(from.uri.user) : null;
  s.caller_name = from && from.display_name ? String(from.display_name) : null;
  s.did = e.request.getHeader('X-Dialer-DID') || null;
  s.did_label = e.request.getHeader('X-Dialer-DID-Label') || null;
  s.state = 'ringing';
  s.cause = null;
  note('ringing');
  session.on('accepted', () => note('accepted'));
  session.on('confirmed', () => { note('confirmed'); s.state = 'confirmed'; });
  session.on('ended', (ev) => { note('ended ' + ev.cause); s.state = 'ended'; s.cause = String(ev.cause); });
  session.on('failed', (ev) => { note('failed ' + ev.cause); s.state = 'failed'; s.cause = String(ev.cause); });
  // JsSIP sends its answer only when ICE gathering completes, which in a
  // loopback-only namespace can take 30 s or never happen. The gateway is
  // ICE-lite and learns our address from our checks: the first candidate
  // is plenty.
  session.on('icecandidate', (ev) => {
    if (ev.candidate) { note('first candidate: answer goes'); ev.ready(); }
  });
  session.on('peerconnection', (ev) => {
    ev.peerconnection.addEventListener('track', (t) => {
      // Played, so that Chromium decodes it (audioLevel stays 0 otherwise).
      const audio = document.createElement('audio');
      audio.autoplay = true;
      audio.srcObject = t.streams[0] || new MediaStream([t.track]);
      document.body.appendChild(audio);
    });
  });
});
s.answer = () => {
  if (!s.session || s.state !== 'ringing') return false;
  try {
    s.session.answer({ mediaConstraints: { audio: true, video: false } });
    return true;
  } catch (err) {
    note('answer threw ' + err);
    return String(err);
  }
};
s.call = (target) => {
  if (s.session && !s.session.isEnded()) return 'a call is in progress';
  s.state = 'calling'; s.cause = null; s.status = null; s.reason = null;
  note('calling ' + target);
  try {
    s.session = ua.call(target, {
      mediaConstraints: { audio: true, video: false },
      eventHandlers: {
        progress: (e) => note('progress ' + (e.response ? e.response.status_code : '')),
        accepted: () => note('accepted'),
        confirmed: () => { note('confirmed'); s.state = 'confirmed'; },
        ended: (e) => { note('ended ' + e.cause); s.state = 'ended'; s.cause = String(e.cause); },
        failed: (e) => {
          const m = e.message;
          s.status = m && m.status_code ? m.status_code : null;
          s.reason = m && m.reason_phrase ? String(m.reason_phrase) : null;
          note('failed ' + e.cause + ' ' + s.status + ' ' + s.reason);
          s.state = 'failed'; s.cause = String(e.cause);
        },
        // As for answering: the first candidate is plenty.
        icecandidate: (ev) => {
          if (ev.candidate) { note('first candidate: offer goes'); ev.ready(); }
        },
      },
    });
    return true;
  } catch (err) {
    note('call threw ' + err);
    s.state = 'failed';
    return String(err);
  }
};
s.hangup = () => {
  if (s.session && !s.session.isEnded()) {
    try { s.session.terminate(); } catch (err) { note('terminate threw ' + err); }
  }
};
s.inbound = () => {
  const pc = s.session && s.session.connection;
  if (!pc) return Promise.resolve(0);
  return pc.getStats().then((report) => {
    let packets = 0;
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') packets += r.packetsReceived || 0;
    });
    return packets;
  });
};
ua.start();
return true;
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_and_paths() {
        assert_eq!(
            requires("const a = require('./A'); x = require(\"b\"); require(c);"),
            ["./A", "b"]
        );
        assert_eq!(
            normalize("jssip/lib/./x/../Utils").as_deref(),
            Some("jssip/lib/Utils")
        );
        assert_eq!(normalize("../x"), None);
    }
}

//! "Poor connection" during a call, like the Twilio Voice SDK's warnings:
//! every 2 s the call's `RTCPeerConnection` (`window.__dialerPeer`, set by
//! the phone) is asked for `getStats()`; the received audio's loss since
//! the last look, its jitter, the round trip and the E-model's MOS
//! (`shared::quality::emodel`) are judged by [`assess`].
//! `#connection-quality[data-level]` is `unknown` until two samples,
//! then `good` or `poor` (with the reasons in words).
//!
//! Self-contained: it reads the peer the phone already publishes and
//! changes nothing in the phone's state.

use std::cell::RefCell;
use std::rc::Rc;

use shared::quality::emodel;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

const POLL_MS: u32 = 2000;
/// Thresholds (Twilio's are similar: RTT 400 ms, jitter 30 ms, loss 3 %,
/// MOS 3.5).
const MAX_RTT_MS: f64 = 400.0;
const MAX_JITTER_MS: f64 = 30.0;
const MAX_LOSS_PERCENT: f64 = 3.0;
const MIN_MOS: f64 = 3.5;

/// Cumulative figures of the received audio at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    pub packets_received: f64,
    pub packets_lost: f64,
    pub jitter_ms: f64,
    pub rtt_ms: Option<f64>,
}

/// What the last two samples say.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub loss_percent: f64,
    pub jitter_ms: f64,
    pub rtt_ms: Option<f64>,
    pub mos: f64,
    /// Empty: good.
    pub reasons: Vec<String>,
}

/// Judges the interval between `before` and `now`: loss over it, the
/// current jitter and round trip, and the MOS they come to.
pub fn assess(before: &Sample, now: &Sample) -> Assessment {
    let lost = (now.packets_lost - before.packets_lost).max(0.0);
    let received = (now.packets_received - before.packets_received).max(0.0);
    let loss_percent = if lost + received > 0.0 {
        lost * 100.0 / (lost + received)
    } else {
        0.0
    };
    let one_way = now.rtt_ms.unwrap_or(0.0) / 2.0;
    let mos = emodel::estimate(emodel::G711_PLC, one_way, loss_percent, now.jitter_ms).mos;
    let mut reasons = Vec::new();
    if loss_percent > MAX_LOSS_PERCENT {
        reasons.push(format!("packet loss {loss_percent:.0} %"));
    }
    if now.jitter_ms > MAX_JITTER_MS {
        reasons.push(format!("jitter {:.0} ms", now.jitter_ms));
    }
    if let Some(rtt) = now.rtt_ms
        && rtt > MAX_RTT_MS
    {
        reasons.push(format!("delay {rtt:.0} ms"));
    }
    if mos < MIN_MOS {
        reasons.push(format!("quality score {mos:.1}"));
    }
    Assessment {
        loss_percent,
        jitter_ms: now.jitter_ms,
        rtt_ms: now.rtt_ms,
        mos,
        reasons,
    }
}

fn number(object: &wasm_bindgen::JsValue, name: &str) -> Option<f64> {
    js_sys::Reflect::get(object, &name.into())
        .ok()
        .and_then(|v| v.as_f64())
}

fn text(object: &wasm_bindgen::JsValue, name: &str) -> Option<String> {
    js_sys::Reflect::get(object, &name.into())
        .ok()
        .and_then(|v| v.as_string())
}

/// The call's audio figures from `getStats()`; `None` without a call.
async fn sample() -> Option<Sample> {
    let window = web_sys::window()?;
    let peer = js_sys::Reflect::get(&window, &"__dialerPeer".into()).ok()?;
    if peer.is_undefined() || peer.is_null() {
        return None;
    }
    let get_stats: js_sys::Function = js_sys::Reflect::get(&peer, &"getStats".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: js_sys::Promise = get_stats.call0(&peer).ok()?.dyn_into().ok()?;
    let report = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let values: js_sys::Function = js_sys::Reflect::get(&report, &"values".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let iterator = values.call0(&report).ok()?;
    let mut s = Sample::default();
    let mut seen_inbound = false;
    for stat in js_sys::try_iter(&iterator).ok()??.flatten() {
        match text(&stat, "type").as_deref() {
            Some("inbound-rtp") if text(&stat, "kind").as_deref() == Some("audio") => {
                seen_inbound = true;
                s.packets_received += number(&stat, "packetsReceived").unwrap_or(0.0);
                s.packets_lost += number(&stat, "packetsLost").unwrap_or(0.0);
                s.jitter_ms = s
                    .jitter_ms
                    .max(number(&stat, "jitter").unwrap_or(0.0) * 1000.0);
            }
            Some("remote-inbound-rtp") => {
                if let Some(rtt) = number(&stat, "roundTripTime") {
                    s.rtt_ms = Some(rtt * 1000.0);
                }
            }
            _ => {}
        }
    }
    seen_inbound.then_some(s)
}

/// `#connection-quality`: nothing to read while good, a warning while poor.
#[function_component]
pub fn ConnectionQuality() -> Html {
    let assessment = use_state(|| None::<Assessment>);
    let last = use_mut_ref(|| None::<Sample>);
    {
        let assessment = assessment.clone();
        let last: Rc<RefCell<Option<Sample>>> = last.clone();
        use_effect_with((), move |()| {
            let poll = move || {
                let assessment = assessment.clone();
                let last = last.clone();
                spawn_local(async move {
                    let Some(now) = sample().await else { return };
                    let before = last.borrow_mut().replace(now);
                    if let Some(before) = before {
                        assessment.set(Some(assess(&before, &now)));
                    }
                });
            };
            let timer = gloo_timers::callback::Interval::new(POLL_MS, poll);
            move || drop(timer)
        });
    }
    match &*assessment {
        None => html! { <span id="connection-quality" data-level="unknown" hidden=true></span> },
        Some(a) if a.reasons.is_empty() => html! {
            <span id="connection-quality" class="connection-good" data-level="good" title={format!("MOS {:.1}", a.mos)}>{ "Connection good" }</span>
        },
        Some(a) => html! {
            <span id="connection-quality" class="connection-poor" data-level="poor" role="status">
                { format!("⚠ Poor connection: {}", a.reasons.join(", ")) }
            </span>
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(received: f64, lost: f64, jitter_ms: f64, rtt_ms: Option<f64>) -> Sample {
        Sample {
            packets_received: received,
            packets_lost: lost,
            jitter_ms,
            rtt_ms,
        }
    }

    #[test]
    fn a_clean_interval_is_good() {
        let a = assess(
            &s(100.0, 0.0, 2.0, Some(20.0)),
            &s(200.0, 0.0, 3.0, Some(20.0)),
        );
        assert!(a.reasons.is_empty(), "{a:?}");
        assert!(a.mos > 4.3);
    }

    #[test]
    fn loss_is_judged_over_the_interval_only() {
        // 50 lost long ago, 5 of the last 100 now: 5 %.
        let a = assess(&s(1000.0, 50.0, 2.0, None), &s(1095.0, 55.0, 2.0, None));
        assert!((a.loss_percent - 5.0).abs() < 1e-9);
        assert_eq!(a.reasons, vec!["packet loss 5 %".to_owned()]);
        // The old loss alone does not keep it poor.
        let b = assess(&s(1095.0, 55.0, 2.0, None), &s(1195.0, 55.0, 2.0, None));
        assert!(b.reasons.is_empty(), "{b:?}");
    }

    #[test]
    fn jitter_delay_and_score_each_say_why() {
        let a = assess(&s(0.0, 0.0, 0.0, None), &s(100.0, 0.0, 45.0, Some(900.0)));
        assert!(a.reasons.contains(&"jitter 45 ms".to_owned()), "{a:?}");
        assert!(a.reasons.contains(&"delay 900 ms".to_owned()), "{a:?}");
        assert!(
            a.reasons.iter().any(|r| r.starts_with("quality score")),
            "{a:?}"
        );
    }
}

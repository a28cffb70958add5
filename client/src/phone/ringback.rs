//! The local ringback tone, played while the far end rings and sends no
//! early media: 440 Hz + 480 Hz, 2 s on, 4 s off (the North American
//! ringback cadence), made with WebAudio so no sound file ships.

use web_sys::{AudioContext, GainNode, OscillatorNode};

/// How long the tone is scheduled ahead; ringing longer than this is
/// unusual, and a carrier's no-answer timer ends it first.
const SCHEDULE_SECS: f64 = 600.0;
const ON_SECS: f64 = 2.0;
const PERIOD_SECS: f64 = 6.0;
/// Each of the two tones; together well below full scale.
const LEVEL: f32 = 0.08;

/// A playing ringback; stops when dropped.
pub struct Ringback {
    context: AudioContext,
    oscillators: Vec<OscillatorNode>,
}

impl Ringback {
    /// Starts the tone on `speaker` (a device id, `""` for the default) where
    /// the browser lets an `AudioContext` choose its output.
    pub fn start(speaker: &str) -> Option<Ringback> {
        let context = AudioContext::new().ok()?;
        if !speaker.is_empty() {
            super::devices::set_context_sink(&context, speaker);
        }
        let gain: GainNode = context.create_gain().ok()?;
        let level = gain.gain();
        level.set_value(0.0);
        let start = context.current_time() + 0.05;
        let mut at = start;
        while at < start + SCHEDULE_SECS {
            let _ = level.set_value_at_time(LEVEL, at);
            let _ = level.set_value_at_time(0.0, at + ON_SECS);
            at += PERIOD_SECS;
        }
        gain.connect_with_audio_node(&context.destination()).ok()?;
        // A context made after the click that started the call may still
        // start suspended in some browsers.
        let _ = context.resume();
        let mut oscillators = Vec::new();
        for frequency in [440.0, 480.0] {
            let oscillator = context.create_oscillator().ok()?;
            oscillator.frequency().set_value(frequency);
            oscillator.connect_with_audio_node(&gain).ok()?;
            oscillator.start_with_when(start).ok()?;
            oscillators.push(oscillator);
        }
        Some(Ringback {
            context,
            oscillators,
        })
    }
}

impl Drop for Ringback {
    fn drop(&mut self) {
        for oscillator in &self.oscillators {
            let _ = oscillator.stop();
        }
        let _ = self.context.close();
    }
}

//! The local tones, made with WebAudio so no sound file ships: the
//! ringback while the far end rings and sends no early media (440 Hz +
//! 480 Hz, 2 s on, 4 s off, the North American ringback cadence), and the
//! ringtone of an incoming call (the same two tones, in a double ring:
//! 0.4 s on, 0.2 s off, 0.4 s on, 2 s off, so the agent tells them apart).
//!
//! The whole cadence is scheduled on the audio clock at once: nothing
//! depends on page timers, which a background tab slows down.

use web_sys::{AudioContext, AudioContextState, GainNode, OscillatorNode};

/// How long the tone is scheduled ahead; ringing longer than this is
/// unusual, and a carrier's no-answer timer ends it first.
const SCHEDULE_SECS: f64 = 600.0;
/// (on, off) pairs of one period of each cadence.
const RINGBACK: &[(f64, f64)] = &[(2.0, 4.0)];
const RINGTONE: &[(f64, f64)] = &[(0.4, 0.2), (0.4, 2.0)];
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
        Self::play(speaker, RINGBACK)
    }

    /// The ringtone of an incoming call. Made without a click (the INVITE
    /// came over the network), so the browser's autoplay policy may keep it
    /// suspended: see [`Ringback::is_suspended`].
    pub fn ringtone(speaker: &str) -> Option<Ringback> {
        Self::play(speaker, RINGTONE)
    }

    /// The browser holds the sound until the person interacts with the page.
    pub fn is_suspended(&self) -> bool {
        self.context.state() == AudioContextState::Suspended
    }

    /// Resumes a suspended tone; call from a user gesture.
    pub fn resume(&self) {
        let _ = self.context.resume();
    }

    fn play(speaker: &str, cadence: &[(f64, f64)]) -> Option<Ringback> {
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
            for (on, off) in cadence {
                let _ = level.set_value_at_time(LEVEL, at);
                let _ = level.set_value_at_time(0.0, at + on);
                at += on + off;
            }
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

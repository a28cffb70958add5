//! G.711 encoding (ITU-T G.711, μ-law and A-law) and the demo prompt.
//!
//! Only the encoders: the demo carrier generates its prompt and echoes
//! what it receives byte for byte, so it never needs to decode (the tests
//! carry their own decoder).

/// The G.711 variant negotiated for a call (RFC 3551 static payload types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// PCMU, payload type 0.
    Mu,
    /// PCMA, payload type 8.
    A,
}

impl Law {
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Mu => mu_law(sample),
            Law::A => a_law(sample),
        }
    }

    /// The encoding name in an `a=rtpmap` line.
    pub fn name(self) -> &'static str {
        match self {
            Law::Mu => "PCMU",
            Law::A => "PCMA",
        }
    }
}

/// Samples per second of every G.711 stream (and of telephone-event).
pub const SAMPLE_RATE: u32 = 8000;

/// μ-law (G.711 §2, the bias-and-segment form of the reference encoder).
pub fn mu_law(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(CLIP) + BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let exponent = (magnitude >> 7).max(1).ilog2() as i32;
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    // Masked to 8 bits, so the cast cannot truncate.
    (!(sign | (exponent << 4) | mantissa) & 0xFF) as u8
}

/// A-law (G.711 §3), with the even bits inverted as transmitted.
pub fn a_law(sample: i16) -> u8 {
    let s = i32::from(sample) >> 3; // 13-bit range
    let (sign, magnitude) = if s < 0 { (0x00, -s - 1) } else { (0x80, s) };
    let magnitude = magnitude.min(0x0FFF);
    let code = if magnitude < 32 {
        magnitude >> 1
    } else {
        let exponent = magnitude.ilog2() as i32 - 4; // 1..=7
        (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    };
    // Masked to 8 bits, so the cast cannot truncate.
    ((sign | code) ^ 0x55) as u8
}

/// The prompt the carrier plays when a call is answered: a short lead-in of
/// silence (so that a WebRTC leg still finishing its DTLS handshake does not
/// miss the start), then a two-tone chime, then a short pause: 1.5 s in all.
/// 16-bit linear samples at 8 kHz.
pub fn prompt_samples() -> Vec<i16> {
    // (frequency in Hz or 0 for silence, milliseconds)
    const SEGMENTS: [(f32, u32); 5] = [
        (0.0, 300),
        (880.0, 300),
        (0.0, 100),
        (660.0, 500),
        (0.0, 300),
    ];
    const AMPLITUDE: f32 = 8000.0; // about -12 dBFS
    const RAMP: f32 = 40.0; // 5 ms fade in and out, so the tones do not click
    let mut out = Vec::new();
    for (frequency, ms) in SEGMENTS {
        let n = SAMPLE_RATE * ms / 1000;
        for i in 0..n {
            let value = if frequency == 0.0 {
                0.0
            } else {
                let t = i as f32 / SAMPLE_RATE as f32;
                let edge = (i.min(n - 1 - i) as f32 / RAMP).min(1.0);
                AMPLITUDE * edge * (2.0 * std::f32::consts::PI * frequency * t).sin()
            };
            // |value| <= AMPLITUDE, well inside i16.
            out.push(value as i16);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference decoders, to check the encoders against.
    fn mu_decode(byte: u8) -> i16 {
        let b = !byte;
        let exponent = (b >> 4) & 0x07;
        let mantissa = i32::from(b & 0x0F);
        let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
        (if b & 0x80 != 0 { -magnitude } else { magnitude }) as i16
    }

    fn a_decode(byte: u8) -> i16 {
        let b = byte ^ 0x55;
        let exponent = (b >> 4) & 0x07;
        let mantissa = i32::from(b & 0x0F);
        let magnitude = match exponent {
            0 => (mantissa << 4) + 8,
            e => ((mantissa << 4) + 0x108) << (e - 1),
        };
        (if b & 0x80 != 0 { magnitude } else { -magnitude }) as i16
    }

    #[test]
    fn known_codes() {
        assert_eq!(mu_law(0), 0xFF);
        assert_eq!(mu_law(i16::MAX), 0x80);
        assert_eq!(mu_law(i16::MIN), 0x00);
        assert_eq!(a_law(0), 0xD5);
        assert_eq!(a_law(i16::MAX), 0xAA);
        assert_eq!(a_law(i16::MIN), 0x2A);
    }

    #[test]
    fn round_trip_stays_within_the_quantisation_step() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let tolerance = (i32::from(s).abs() / 16).max(16) + 8;
            let mu = i32::from(mu_decode(mu_law(s)));
            let a = i32::from(a_decode(a_law(s)));
            assert!(
                (mu - i32::from(s)).abs() <= tolerance + 128,
                "μ-law {s} → {mu}"
            );
            assert!((a - i32::from(s)).abs() <= tolerance, "A-law {s} → {a}");
        }
    }

    #[test]
    fn prompt_is_one_and_a_half_seconds_with_sound_in_it() {
        let samples = prompt_samples();
        assert_eq!(samples.len(), 12_000);
        let loud = samples.iter().filter(|s| s.unsigned_abs() > 4000).count();
        assert!(loud > 2000, "only {loud} loud samples");
        assert_eq!(samples[0], 0, "starts with silence");
    }
}

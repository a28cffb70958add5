//! SRTP toward carriers (RFC 3711) with keys exchanged in SDP (SDES,
//! RFC 4568): the `AES_CM_128_HMAC_SHA1_80` and `_32` suites, which are
//! what carriers that encrypt media offer.
//!
//! Sans-IO and pure: [`SrtpKey`] is one side's master key and salt (as
//! written in an `a=crypto` line), [`SrtpContext`] protects the packets we
//! send or unprotects the packets we receive with it.
//!
//! Why ours: the primitives (AES in counter mode, HMAC-SHA1) are str0m's
//! public crypto provider (aws-lc-rs underneath), the same code that
//! protects the browser leg. str0m's own SRTP context is private to it
//! and keyed only by DTLS; the `webrtc-srtp` crate would pull in the
//! webrtc-rs utility stack and a second set of cipher crates for ~200
//! lines of packet bookkeeping (key derivation, the rollover counter, the
//! replay window), which is what this file holds.
//!
//! [`SrtcpContext`] is the same for the leg's RTCP (RFC 3711 §3.4): the
//! SRTCP keys (labels 3–5), the 31-bit SRTCP index with the E flag after
//! the packet, and an 80-bit tag for both suites (RFC 4568 §6.2.1). A
//! received SRTCP index is not checked against a replay window: a replayed
//! report can only change the call's statistics, never the media.
//! No MKI, no key lifetime: a call never comes close to 2^31 packets.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use str0m::crypto::{Aes128CmSha1_80Cipher, CryptoProvider};

/// A crypto suite of RFC 4568 §6.2 that we speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpSuite {
    /// AES-128 counter mode, 80-bit HMAC-SHA1 tag (the common one).
    AesCm128HmacSha1_80,
    /// The same with a 32-bit tag.
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(SrtpSuite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(SrtpSuite::AesCm128HmacSha1_32),
            _ => None,
        }
    }

    fn tag_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
        }
    }
}

const MASTER_KEY_LEN: usize = 16;
const MASTER_SALT_LEN: usize = 14;
const AUTH_KEY_LEN: usize = 20;
/// How far behind the newest packet a late one is still accepted.
const REPLAY_WINDOW: u64 = 64;

/// One side's master key and salt for a suite: what an `a=crypto` line
/// carries (`inline:<base64 of key ‖ salt>`).
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    pub suite: SrtpSuite,
    material: [u8; MASTER_KEY_LEN + MASTER_SALT_LEN],
}

impl fmt::Debug for SrtpKey {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKey")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl SrtpKey {
    /// A fresh random key (one per call and direction).
    pub fn random(suite: SrtpSuite) -> SrtpKey {
        let mut material = [0u8; MASTER_KEY_LEN + MASTER_SALT_LEN];
        rand::Rng::fill(&mut rand::thread_rng(), &mut material[..]);
        SrtpKey { suite, material }
    }

    #[cfg(test)]
    pub fn from_material(suite: SrtpSuite, material: [u8; 30]) -> SrtpKey {
        SrtpKey { suite, material }
    }

    /// The key parameters of an `a=crypto` line: `inline:<key||salt>` with an
    /// optional `|<lifetime>` (ignored) and `|<MKI>:<length>` (refused: we
    /// send and expect packets without an MKI).
    pub fn from_key_params(suite: SrtpSuite, params: &str) -> Result<SrtpKey, String> {
        // Several `;`-separated key params are allowed; the first is used.
        let first = params.split(';').next().unwrap_or(params);
        let Some(inline) = first.strip_prefix("inline:") else {
            return Err("its key is not `inline:`".into());
        };
        let mut fields = inline.split('|');
        let encoded = fields.next().unwrap_or("");
        for field in fields {
            if field.contains(':') {
                return Err("it uses an MKI, which we do not support".into());
            }
        }
        if encoded.len() > 64 {
            return Err("its key is too long".into());
        }
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| "its key is not base64".to_string())?;
        let material: [u8; MASTER_KEY_LEN + MASTER_SALT_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("its key is {} bytes, not 30", bytes.len()))?;
        Ok(SrtpKey { suite, material })
    }

    /// `inline:<base64>` for our `a=crypto` line.
    pub fn key_params(&self) -> String {
        format!("inline:{}", BASE64.encode(self.material))
    }

    fn master_key(&self) -> [u8; MASTER_KEY_LEN] {
        let mut k = [0u8; MASTER_KEY_LEN];
        k.copy_from_slice(&self.material[..MASTER_KEY_LEN]);
        k
    }

    fn master_salt(&self) -> [u8; MASTER_SALT_LEN] {
        let mut s = [0u8; MASTER_SALT_LEN];
        s.copy_from_slice(&self.material[MASTER_KEY_LEN..]);
        s
    }
}

/// Why a received packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unprotect {
    /// Too short, or not RTP.
    Malformed,
    /// The authentication tag is wrong (wrong key, or forged/damaged).
    Unauthentic,
    /// Already received, or older than the replay window.
    Replayed,
}

/// The session keys of one direction (RFC 3711 §4.3, key derivation rate 0)
/// and its packet index state.
pub struct SrtpContext {
    suite: SrtpSuite,
    cipher: Box<dyn Aes128CmSha1_80Cipher>,
    auth_key: [u8; AUTH_KEY_LEN],
    salt: [u8; MASTER_SALT_LEN],
    crypto: &'static CryptoProvider,
    /// Receiving: the SSRC the state below belongs to.
    ssrc: Option<u32>,
    /// Rollover counter and highest sequence number (s_l) seen or sent.
    roc: u32,
    highest_seq: Option<u16>,
    /// Bit i set: index (highest - i) was received.
    replay: u64,
    scratch: Vec<u8>,
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("roc", &self.roc)
            .finish_non_exhaustive()
    }
}

/// `Some` when str0m has a crypto provider (it always has, built with
/// aws-lc-rs).
fn provider() -> &'static CryptoProvider {
    static PROVIDER: std::sync::OnceLock<CryptoProvider> = std::sync::OnceLock::new();
    PROVIDER.get_or_init(str0m::crypto::from_feature_flags)
}

/// The session cipher key, authentication key and salt of `key` (RFC 3711
/// §4.3.1): labels `first`, `first + 1`, `first + 2` — 0 for SRTP, 3 for
/// SRTCP.
fn session_keys(
    crypto: &CryptoProvider,
    key: &SrtpKey,
    first: u8,
) -> (
    [u8; MASTER_KEY_LEN],
    [u8; AUTH_KEY_LEN],
    [u8; MASTER_SALT_LEN],
) {
    let master = key.master_key();
    let salt = key.master_salt();
    let mut cipher_key = [0u8; MASTER_KEY_LEN];
    derive(crypto, &master, &salt, first, &mut cipher_key);
    let mut auth_key = [0u8; AUTH_KEY_LEN];
    derive(crypto, &master, &salt, first + 1, &mut auth_key);
    let mut session_salt = [0u8; MASTER_SALT_LEN];
    derive(crypto, &master, &salt, first + 2, &mut session_salt);
    (cipher_key, auth_key, session_salt)
}

impl SrtpContext {
    pub fn new(key: &SrtpKey) -> SrtpContext {
        let crypto = provider();
        let (cipher_key, auth_key, session_salt) = session_keys(crypto, key, 0x00);
        SrtpContext {
            suite: key.suite,
            cipher: crypto
                .srtp_provider
                .aes_128_cm_sha1_80()
                .create_cipher(cipher_key, true),
            auth_key,
            salt: session_salt,
            crypto,
            ssrc: None,
            roc: 0,
            highest_seq: None,
            replay: 0,
            scratch: Vec::with_capacity(256),
        }
    }

    /// Encrypts the RTP packet in `packet` in place and appends the tag.
    /// Packets are sent in sequence order (ours are: the rewriter numbers
    /// them), so a smaller sequence number means the 16-bit counter wrapped.
    pub fn protect(&mut self, packet: &mut Vec<u8>) -> Result<(), Unprotect> {
        let header_len = header_len(packet).ok_or(Unprotect::Malformed)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if let Some(last) = self.highest_seq
            && seq < last
            && last - seq > 0x8000
        {
            self.roc = self.roc.wrapping_add(1);
        }
        self.highest_seq = Some(seq);
        let index = (u64::from(self.roc) << 16) | u64::from(seq);
        self.crypt(ssrc, index, packet, header_len);
        let tag = self.tag(&packet[..], self.roc);
        packet.extend_from_slice(&tag[..self.suite.tag_len()]);
        Ok(())
    }

    /// Checks and decrypts a received SRTP packet; the plain RTP packet is
    /// returned (borrowed from this context until the next call).
    pub fn unprotect(&mut self, datagram: &[u8]) -> Result<&[u8], Unprotect> {
        let tag_len = self.suite.tag_len();
        if datagram.len() < 12 + tag_len {
            return Err(Unprotect::Malformed);
        }
        let (packet, tag) = datagram.split_at(datagram.len() - tag_len);
        let header_len = header_len(packet).ok_or(Unprotect::Malformed)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        // A new source (the carrier restarted its stream) starts its own
        // index; the state switches only once a packet of it is authentic.
        let (base_roc, base_seq, base_replay) = if self.ssrc == Some(ssrc) {
            (self.roc, self.highest_seq, self.replay)
        } else {
            (0, None, 0)
        };
        let roc = estimate_roc(base_roc, base_seq, seq);
        let index = (u64::from(roc) << 16) | u64::from(seq);
        let highest = base_seq.map(|s| (u64::from(base_roc) << 16) | u64::from(s));
        if let Some(highest) = highest
            && index <= highest
        {
            let behind = highest - index;
            if behind >= REPLAY_WINDOW || base_replay & (1 << behind) != 0 {
                return Err(Unprotect::Replayed);
            }
        }
        let expected = self.tag(packet, roc);
        if !constant_time_eq(&expected[..tag_len], tag) {
            return Err(Unprotect::Unauthentic);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(packet);
        self.crypt(ssrc, index, &mut scratch, header_len);
        self.scratch = scratch;
        self.ssrc = Some(ssrc);
        match highest {
            Some(h) if index <= h => {
                self.replay = base_replay | (1 << (h - index));
                self.roc = base_roc;
                self.highest_seq = base_seq;
            }
            Some(h) => {
                let ahead = index - h;
                self.replay = if ahead >= REPLAY_WINDOW {
                    1
                } else {
                    (base_replay << ahead) | 1
                };
                self.roc = roc;
                self.highest_seq = Some(seq);
            }
            None => {
                self.replay = 1;
                self.roc = roc;
                self.highest_seq = Some(seq);
            }
        }
        Ok(&self.scratch)
    }

    /// AES-CM over the payload of `packet` (everything past `header_len`).
    fn crypt(&mut self, ssrc: u32, index: u64, packet: &mut [u8], header_len: usize) {
        let iv = str0m::crypto::Aes128CmSha1_80::rtp_iv(self.salt, ssrc, index);
        let payload = &mut packet[header_len..];
        let input = payload.to_vec();
        // Counter mode cannot fail for our lengths; a failure would leave
        // garbage that the far end's tag check drops.
        let _ = self.cipher.encrypt(&iv, &input, payload);
    }

    /// HMAC-SHA1 over the packet and the rollover counter.
    fn tag(&self, authenticated: &[u8], roc: u32) -> [u8; 20] {
        self.crypto
            .sha1_hmac_provider
            .sha1_hmac(&self.auth_key, &[authenticated, &roc.to_be_bytes()])
    }
}

/// SRTCP's tag: 80 bits for both suites we speak (RFC 4568 §6.2.1).
const SRTCP_TAG_LEN: usize = 10;
/// The E flag of the SRTCP index word: the packet is encrypted.
const SRTCP_E_FLAG: u32 = 0x8000_0000;

/// One direction of a leg's SRTCP (RFC 3711 §3.4).
pub struct SrtcpContext {
    cipher: Box<dyn Aes128CmSha1_80Cipher>,
    auth_key: [u8; AUTH_KEY_LEN],
    salt: [u8; MASTER_SALT_LEN],
    crypto: &'static CryptoProvider,
    /// The next index we send with.
    index: u32,
}

impl fmt::Debug for SrtcpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtcpContext")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl SrtcpContext {
    pub fn new(key: &SrtpKey) -> SrtcpContext {
        let crypto = provider();
        let (cipher_key, auth_key, session_salt) = session_keys(crypto, key, 0x03);
        SrtcpContext {
            cipher: crypto
                .srtp_provider
                .aes_128_cm_sha1_80()
                .create_cipher(cipher_key, true),
            auth_key,
            salt: session_salt,
            crypto,
            index: 0,
        }
    }

    /// Encrypts a compound RTCP packet in place (all but the first
    /// header and SSRC), then appends E‖index and the tag.
    pub fn protect(&mut self, packet: &mut Vec<u8>) -> Result<(), Unprotect> {
        if packet.len() < 8 || packet[0] >> 6 != 2 {
            return Err(Unprotect::Malformed);
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let index = self.index;
        self.index = (self.index + 1) & !SRTCP_E_FLAG;
        self.crypt(ssrc, index, &mut packet[8..]);
        packet.extend_from_slice(&(SRTCP_E_FLAG | index).to_be_bytes());
        let tag = self.tag(packet);
        packet.extend_from_slice(&tag[..SRTCP_TAG_LEN]);
        Ok(())
    }

    /// Checks and decrypts a received SRTCP packet into plain RTCP.
    pub fn unprotect(&mut self, datagram: &[u8]) -> Result<Vec<u8>, Unprotect> {
        if datagram.len() < 8 + 4 + SRTCP_TAG_LEN || datagram[0] >> 6 != 2 {
            return Err(Unprotect::Malformed);
        }
        let (authenticated, tag) = datagram.split_at(datagram.len() - SRTCP_TAG_LEN);
        let expected = self.tag(authenticated);
        if !constant_time_eq(&expected[..SRTCP_TAG_LEN], tag) {
            return Err(Unprotect::Unauthentic);
        }
        let (packet, word) = authenticated.split_at(authenticated.len() - 4);
        let word = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        let mut plain = packet.to_vec();
        if word & SRTCP_E_FLAG != 0 {
            let ssrc = u32::from_be_bytes([plain[4], plain[5], plain[6], plain[7]]);
            self.crypt(ssrc, word & !SRTCP_E_FLAG, &mut plain[8..]);
        }
        Ok(plain)
    }

    fn crypt(&mut self, ssrc: u32, index: u32, data: &mut [u8]) {
        let iv = str0m::crypto::Aes128CmSha1_80::rtp_iv(self.salt, ssrc, u64::from(index));
        let input = data.to_vec();
        // As for SRTP: counter mode cannot fail for these lengths.
        let _ = self.cipher.encrypt(&iv, &input, data);
    }

    fn tag(&self, authenticated: &[u8]) -> [u8; 20] {
        self.crypto
            .sha1_hmac_provider
            .sha1_hmac(&self.auth_key, &[authenticated])
    }
}

/// RFC 3711 §3.3.1 (Appendix A): the rollover counter that puts `seq`
/// closest to the highest index seen (`roc`, `s_l`).
fn estimate_roc(roc: u32, s_l: Option<u16>, seq: u16) -> u32 {
    let Some(s_l) = s_l else {
        return roc;
    };
    if s_l < 0x8000 {
        if seq > s_l && seq - s_l > 0x8000 {
            roc.wrapping_sub(1)
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq {
        roc.wrapping_add(1)
    } else {
        roc
    }
}

/// The AES-CM key derivation of RFC 3711 §4.3.3 with a key derivation rate
/// of 0: the keystream of AES(master) from IV = (salt XOR label<<48) · 2^16.
fn derive(
    crypto: &CryptoProvider,
    master: &[u8; MASTER_KEY_LEN],
    salt: &[u8; MASTER_SALT_LEN],
    label: u8,
    out: &mut [u8],
) {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(salt);
    iv[7] ^= label;
    let mut cipher = crypto
        .srtp_provider
        .aes_128_cm_sha1_80()
        .create_cipher(*master, true);
    let zeros = vec![0u8; out.len()];
    let _ = cipher.encrypt(&iv, &zeros, out);
}

/// Length of the RTP header (fixed part, CSRCs, extension), if `packet` is
/// RTP version 2 and holds it all.
fn header_len(packet: &[u8]) -> Option<usize> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return None;
    }
    let mut len = 12 + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let ext = packet.get(len + 2..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    (len <= packet.len()).then_some(len)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn srtcp_round_trips_and_refuses_tampering() {
        let key = SrtpKey::random(SrtpSuite::AesCm128HmacSha1_32);
        let mut tx = SrtcpContext::new(&key);
        let mut rx = SrtcpContext::new(&key);
        // An RR with one report block: header, SSRC, 24 bytes of block.
        let mut plain = vec![0x81, 201, 0, 7, 1, 2, 3, 4];
        plain.extend((0u8..24).collect::<Vec<_>>());
        for round in 0..3u32 {
            let mut packet = plain.clone();
            tx.protect(&mut packet).unwrap();
            assert_eq!(packet.len(), plain.len() + 4 + 10);
            assert_ne!(&packet[8..32], &plain[8..32], "the body is encrypted");
            assert_eq!(&packet[32..36], &(0x8000_0000 | round).to_be_bytes());
            assert_eq!(rx.unprotect(&packet).unwrap(), plain);
            let mut bad = packet.clone();
            bad[10] ^= 1;
            assert_eq!(rx.unprotect(&bad), Err(Unprotect::Unauthentic));
        }
        // Keys of the SRTP direction do not open SRTCP.
        let other = SrtpKey::random(SrtpSuite::AesCm128HmacSha1_80);
        let mut packet = plain.clone();
        SrtcpContext::new(&other).protect(&mut packet).unwrap();
        assert_eq!(rx.unprotect(&packet), Err(Unprotect::Unauthentic));
        assert_eq!(rx.unprotect(&[0x80; 10]), Err(Unprotect::Malformed));
    }

    /// RFC 3711 Appendix B.3.
    #[test]
    fn key_derivation_matches_rfc_3711_b3() {
        let master: [u8; 16] = hex("E1F97A0D3E018BE0D64FA32C06DE4139").try_into().unwrap();
        let salt: [u8; 14] = hex("0EC675AD498AFEEBB6960B3AABE6").try_into().unwrap();
        let crypto = provider();
        let mut key = [0u8; 16];
        derive(crypto, &master, &salt, 0, &mut key);
        assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut session_salt = [0u8; 14];
        derive(crypto, &master, &salt, 2, &mut session_salt);
        assert_eq!(session_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 20];
        derive(crypto, &master, &salt, 1, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
        );
    }

    fn packet(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0x03, 0x20, 0xca, 0xfe, 0xba, 0xbe];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn pair(suite: SrtpSuite) -> (SrtpContext, SrtpContext) {
        let key = SrtpKey::random(suite);
        let parsed = SrtpKey::from_key_params(suite, &key.key_params()).unwrap();
        assert_eq!(parsed, key);
        (SrtpContext::new(&key), SrtpContext::new(&parsed))
    }

    #[test]
    fn protect_then_unprotect_round_trips_both_suites() {
        for suite in [
            SrtpSuite::AesCm128HmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32,
        ] {
            let (mut tx, mut rx) = pair(suite);
            for seq in [65530u16, 65531, 65535, 0, 1, 2] {
                let plain = packet(seq, &[0xd5; 160]);
                let mut p = plain.clone();
                tx.protect(&mut p).unwrap();
                assert_eq!(p.len(), plain.len() + suite.tag_len());
                assert_ne!(&p[12..172], &plain[12..]);
                assert_eq!(rx.unprotect(&p).unwrap(), &plain[..], "{suite:?} {seq}");
            }
            assert_eq!(rx.roc, 1, "the rollover counter followed the wrap");
        }
    }

    #[test]
    fn a_forged_replayed_or_short_packet_is_dropped() {
        let (mut tx, mut rx) = pair(SrtpSuite::AesCm128HmacSha1_80);
        let mut first = packet(10, &[1; 20]);
        tx.protect(&mut first).unwrap();
        let mut second = packet(11, &[2; 20]);
        tx.protect(&mut second).unwrap();
        let mut forged = second.clone();
        forged[15] ^= 1;
        assert_eq!(rx.unprotect(&forged), Err(Unprotect::Unauthentic));
        assert!(rx.unprotect(&second).is_ok());
        // Late but inside the window: accepted once.
        assert!(rx.unprotect(&first).is_ok());
        assert_eq!(rx.unprotect(&first), Err(Unprotect::Replayed));
        assert_eq!(rx.unprotect(&second), Err(Unprotect::Replayed));
        assert_eq!(rx.unprotect(&second[..15]), Err(Unprotect::Malformed));
        assert_eq!(rx.unprotect(&[]), Err(Unprotect::Malformed));
        let (_, mut other) = pair(SrtpSuite::AesCm128HmacSha1_80);
        assert_eq!(other.unprotect(&second), Err(Unprotect::Unauthentic));
        // A forged packet of another SSRC does not reset the stream's state.
        let mut stranger = second.clone();
        stranger[8] ^= 0xff;
        assert_eq!(rx.unprotect(&stranger), Err(Unprotect::Unauthentic));
        assert_eq!(rx.unprotect(&second), Err(Unprotect::Replayed));
    }

    #[test]
    fn key_params_are_checked() {
        let suite = SrtpSuite::AesCm128HmacSha1_80;
        assert!(SrtpKey::from_key_params(suite, "inline:short").is_err());
        assert!(SrtpKey::from_key_params(suite, "uri:x").is_err());
        let good = SrtpKey::random(suite).key_params();
        assert!(SrtpKey::from_key_params(suite, &format!("{good}|2^31")).is_ok());
        let mki = SrtpKey::from_key_params(suite, &format!("{good}|2^31|1:4"));
        assert!(mki.unwrap_err().contains("MKI"));
        assert!(!format!("{:?}", SrtpKey::random(suite)).contains("material"));
    }
}

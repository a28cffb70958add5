//! The demo carrier over real sockets on 127.0.0.1: a call from a
//! hand-rolled UAC rings, is answered with G.711 + telephone-event, plays
//! its prompt, then echoes the caller's RTP (DTMF included) re-stamped as
//! its own stream, until the caller's BYE stops it.

#[path = "demo-carrier-support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{Rtp, Uac, body, header, sdp_audio_addr};

const ANSWER_DELAY: Duration = Duration::from_millis(500);
const OUR_SSRC: u32 = 0x1234_5678;
const VOICE: [u8; 160] = [0x42; 160];

#[tokio::test]
async fn answers_plays_the_prompt_then_echoes_until_bye() {
    let carrier = support::carrier(ANSWER_DELAY).await;
    let mut uac = Uac::new(carrier.sip_addr, "+15550100").await;

    let invited = Instant::now();
    uac.send(&uac.invite()).await;
    uac.expect(100).await;
    let ringing = uac.expect(180).await;
    assert!(uac.remote_to.is_some(), "180 has a To tag:\n{ringing}");
    assert!(
        header(&ringing, "Contact").is_some(),
        "180 has a Contact:\n{ringing}"
    );
    let ok = uac.expect(200).await;
    assert!(
        invited.elapsed() >= ANSWER_DELAY,
        "answered after {:?}",
        invited.elapsed()
    );
    assert_eq!(
        header(&ok, "Content-Type").as_deref(),
        Some("application/sdp")
    );
    let contact = header(&ok, "Contact").expect("200 has a Contact");
    assert!(
        contact.starts_with("<sip:demo-carrier@127.0.0.1:"),
        "{contact}"
    );
    let answer = body(&ok);
    let carrier_rtp = sdp_audio_addr(&ok);
    assert!(
        answer.contains(&format!("m=audio {} RTP/AVP 0 101\r\n", carrier_rtp.port())),
        "PCMU (the offer's first) and telephone-event:\n{answer}"
    );
    assert!(
        answer.contains("a=rtpmap:101 telephone-event/8000\r\n"),
        "{answer}"
    );
    assert!(answer.contains("a=sendrecv\r\n"), "{answer}");
    uac.send(&uac.in_dialog("ACK", 1)).await;

    // 3 s of media: we send "voice" every 20 ms and one DTMF digit (three
    // RFC 4733 packets of one event) once the prompt is over.
    let mut received: Vec<Rtp> = Vec::new();
    let mut sip_after_ack = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut buf = vec![0u8; 2048];
    let mut sip_buf = vec![0u8; 65_535];
    let start = Instant::now();
    let mut seq: u16 = 1000;
    while start.elapsed() < Duration::from_secs(3) {
        tokio::select! {
            _ = tick.tick() => {
                let n = u32::from(seq - 1000);
                let voice = Rtp {
                    marker: n == 0,
                    payload_type: 0,
                    seq,
                    timestamp: 90_000 + n * 160,
                    ssrc: OUR_SSRC,
                    payload: VOICE.to_vec(),
                };
                uac.rtp.send_to(&voice.to_bytes(), carrier_rtp).await.expect("send RTP");
                seq += 1;
                if n == 110 {
                    for (i, duration) in [160u16, 320, 320].into_iter().enumerate() {
                        let end = if i == 2 { 0x80 } else { 0 };
                        let digit = Rtp {
                            marker: i == 0,
                            payload_type: 101,
                            seq,
                            timestamp: 90_000 + n * 160,
                            ssrc: OUR_SSRC,
                            payload: vec![5, end | 10, (duration >> 8) as u8, duration as u8],
                        };
                        uac.rtp.send_to(&digit.to_bytes(), carrier_rtp).await.expect("send DTMF");
                        seq += 1;
                    }
                }
            }
            r = uac.rtp.recv_from(&mut buf) => {
                let (len, from) = r.expect("receive RTP");
                assert_eq!(from, carrier_rtp, "RTP comes from the answer's address");
                received.push(Rtp::parse(&buf[..len]));
            }
            r = uac.sip.recv_from(&mut sip_buf) => {
                let (len, _) = r.expect("receive SIP");
                sip_after_ack.push(String::from_utf8_lossy(&sip_buf[..len]).into_owned());
            }
        }
    }
    assert!(
        sip_after_ack.is_empty(),
        "the ACK stopped the 200s: {sip_after_ack:?}"
    );

    // Prompt first: 1.5 s of 20 ms packets, then only echoes.
    let first_echo = received
        .iter()
        .position(|p| p.payload == VOICE)
        .expect("our voice came back");
    assert_eq!(
        first_echo, 75,
        "the whole prompt (75 packets) before any echo"
    );
    let prompt = &received[..first_echo];
    assert!(
        prompt
            .iter()
            .all(|p| p.payload_type == 0 && p.payload.len() == 160)
    );
    let distinct: std::collections::HashSet<u8> = prompt
        .iter()
        .flat_map(|p| p.payload.iter().copied())
        .collect();
    assert!(distinct.len() > 50, "the prompt is a tone, not silence");
    let echoes = &received[first_echo..];
    let voice_echoes = echoes.iter().filter(|p| p.payload_type == 0).count();
    assert!(
        voice_echoes >= 50,
        "{voice_echoes} voice packets echoed in ~1.5 s"
    );
    assert!(
        echoes
            .iter()
            .all(|p| p.payload_type == 101 || p.payload == VOICE),
        "only what we sent comes back after the prompt"
    );
    let dtmf: Vec<&Rtp> = echoes.iter().filter(|p| p.payload_type == 101).collect();
    assert_eq!(dtmf.len(), 3, "the DTMF packets are echoed too");
    assert_eq!(dtmf[0].payload[0], 5, "digit 5");
    assert!(dtmf[0].marker && dtmf[2].payload[1] & 0x80 != 0);
    assert!(
        dtmf.iter().all(|p| p.timestamp == dtmf[0].timestamp),
        "one event keeps one timestamp"
    );

    // One stream: the carrier's SSRC, consecutive sequence numbers across
    // prompt and echo, timestamps never going back.
    let ssrc = received[0].ssrc;
    assert_ne!(ssrc, OUR_SSRC);
    for pair in received.windows(2) {
        assert_eq!(pair[1].ssrc, ssrc);
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "no gaps on loopback"
        );
        let step = pair[1].timestamp.wrapping_sub(pair[0].timestamp);
        assert!(step < 8000, "timestamps move forward: {pair:?}");
    }

    uac.send(&uac.in_dialog("BYE", 2)).await;
    let bye_ok = loop {
        let m = uac
            .recv(Duration::from_secs(5))
            .await
            .expect("an answer to BYE");
        if header(&m, "CSeq").as_deref() == Some("2 BYE") {
            break m;
        }
    };
    assert_eq!(support::status(&bye_ok), Some(200), "{bye_ok}");

    // The media stopped: drain what was in flight, then silence even
    // though we keep sending.
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(10), uac.rtp.recv_from(&mut buf)).await
    {}
    for _ in 0..10 {
        let voice = Rtp {
            marker: false,
            payload_type: 0,
            seq,
            timestamp: 0,
            ssrc: OUR_SSRC,
            payload: VOICE.to_vec(),
        };
        // The carrier's socket may already be closed: ICMP errors are fine.
        let _ = uac.rtp.send_to(&voice.to_bytes(), carrier_rtp).await;
        seq += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let late = tokio::time::timeout(Duration::from_millis(300), uac.rtp.recv_from(&mut buf)).await;
    assert!(!matches!(late, Ok(Ok(_))), "no RTP after the BYE");
    carrier.shutdown().await;
}

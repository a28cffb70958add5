//! A browser tab's life over real sockets: sign in over HTTP, open the SIP
//! WebSocket, REGISTER with the issued digest credential, and lose the
//! binding when the WebSocket closes.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway::config::{Args, Config};
use shared::sip::digest::{self, Challenge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn start() -> (gateway::Running, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("gw-ws-{}-{}", std::process::id(), rand_suffix()));
    let config = Config::resolve(Args {
        data_dir: Some(dir.clone()),
        http_listen: Some("127.0.0.1:0".into()),
        sip_udp: Some("127.0.0.1:0".into()),
        sip_tcp: Some("127.0.0.1:0".into()),
        sip_domain: Some("gw.test".into()),
        ..Args::default()
    })
    .unwrap();
    let running = gateway::start(config).await.unwrap();
    (running, dir)
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
}

/// A first start without GATEWAY_DEMO_PASSWORD writes the password to a file.
fn demo_password(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("initial-credentials.txt")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("demo\t"))
        .unwrap()
        .to_owned()
}

async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn open_ws(addr: std::net::SocketAddr, protocol: Option<&str>) -> Result<Ws, String> {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    if let Some(p) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

async fn roundtrip(ws: &mut Ws, text: String) -> String {
    ws.send(Message::Text(text.into())).await.unwrap();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an answer within 5 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = frame {
            return t.to_string();
        }
    }
}

fn register(cseq: u32, contact: Option<&str>, auth: Option<&str>) -> String {
    let mut text = format!(
        "REGISTER sip:gw.test SIP/2.0\r\n\
         Via: SIP/2.0/WSS tab.invalid;branch=z9hG4bKreg{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:demo@gw.test>;tag=t1\r\n\
         To: <sip:demo@gw.test>\r\n\
         Call-ID: reg-{cseq}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    if let Some(c) = contact {
        text.push_str(&format!("Contact: {c}\r\n"));
    }
    if let Some(a) = auth {
        text.push_str(&format!("Authorization: {a}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text
}

/// REGISTER, answer the MD5 challenge, return the final response.
async fn authenticated_register(
    ws: &mut Ws,
    cseq: u32,
    contact: Option<&str>,
    user: &str,
    password: &str,
) -> String {
    let first = roundtrip(ws, register(cseq, contact, None)).await;
    assert!(first.starts_with("SIP/2.0 401"), "{first}");
    let challenge_line = first
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate:"))
        .unwrap();
    let challenge = Challenge::parse(
        challenge_line
            .trim_start_matches("WWW-Authenticate:")
            .trim(),
    )
    .unwrap();
    let auth = digest::answer(
        &challenge,
        "REGISTER",
        "sip:gw.test",
        user,
        password,
        "abc",
        1,
    )
    .to_header_value();
    roundtrip(ws, register(cseq + 1, contact, Some(&auth))).await
}

fn contact_lines(response: &str) -> usize {
    response
        .lines()
        .filter(|l| l.starts_with("Contact:"))
        .count()
}

#[tokio::test]
async fn tabs_register_over_websocket_and_lose_their_binding_on_close() {
    let (gw, dir) = start().await;
    let (status, body) = http(
        gw.http,
        "POST",
        "/api/v1/session",
        &format!(
            r#"{{"username":"demo","password":"{}"}}"#,
            demo_password(&dir)
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let session: shared::api::SessionInfo = serde_json::from_str(&body).unwrap();
    let sip = session.sip.unwrap();

    let mut tab1 = open_ws(gw.http, Some("sip")).await.unwrap();
    let tab1_contact = "<sip:t1@one.invalid;transport=ws>;+sip.instance=\"<urn:uuid:1>\";reg-id=1";
    let ok = authenticated_register(
        &mut tab1,
        1,
        Some(tab1_contact),
        &sip.username,
        &sip.password,
    )
    .await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");

    let mut tab2 = open_ws(gw.http, Some("sip")).await.unwrap();
    let tab2_contact = "<sip:t2@two.invalid;transport=ws>;+sip.instance=\"<urn:uuid:2>\";reg-id=1";
    let ok = authenticated_register(
        &mut tab2,
        10,
        Some(tab2_contact),
        &sip.username,
        &sip.password,
    )
    .await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert_eq!(contact_lines(&ok), 2, "{ok}");

    // Tab 1 closes; a query from tab 2 lists only tab 2.
    tab1.close(None).await.unwrap();
    drop(tab1);
    let mut listed = 2;
    for attempt in 0..20 {
        let query = authenticated_register(
            &mut tab2,
            100 + attempt * 2,
            None,
            &sip.username,
            &sip.password,
        )
        .await;
        assert!(query.starts_with("SIP/2.0 200"), "{query}");
        listed = contact_lines(&query);
        if listed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed, 1);

    // The wrong password is refused.
    let refused =
        authenticated_register(&mut tab2, 200, Some(tab2_contact), &sip.username, "nope").await;
    assert!(refused.starts_with("SIP/2.0 403"), "{refused}");

    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn websocket_without_sip_subprotocol_is_refused() {
    let (gw, dir) = start().await;
    let err = open_ws(gw.http, None).await.unwrap_err();
    assert!(err.contains("400"), "{err}");
    let err = open_ws(gw.http, Some("chat")).await.unwrap_err();
    assert!(err.contains("400"), "{err}");
    let mut ws = open_ws(gw.http, Some("sip")).await.unwrap();
    let options = "OPTIONS sip:gw.test SIP/2.0\r\n\
        Via: SIP/2.0/WSS x.invalid;branch=z9hG4bKopt\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:probe@x.invalid>;tag=p\r\n\
        To: <sip:gw.test>\r\n\
        Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let answer = roundtrip(&mut ws, options.to_owned()).await;
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

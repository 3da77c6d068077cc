//! A stand-in for Loki's HTTP API where Loki cannot run: `query_range` answers with a set
//! JSON body, and `tail` upgrades to a real websocket that plays a script per connection,
//! keeping Loki's documented contract that a tail sends nothing older than its `start`.
//! Or it refuses the upgrade, as a Loki behind a proxy without websockets does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// One step of a tail connection.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sends a message; a text message with `streams` loses the entries before `start`.
    Send(Message),
    /// Reads for this long, answering pings.
    Listen(Duration),
    /// Holds the connection without reading (no pong) until the client goes.
    Mute,
    /// Closes the websocket.
    Close,
}

/// What one tail connection does. After its steps it listens until the client goes.
#[derive(Clone, Debug)]
pub enum Session {
    Refuse(u16),
    Steps(Vec<Step>),
}

#[derive(Default)]
struct State {
    query_range: String,
    sessions: VecDeque<Session>,
    /// What a tail connection does when no session is queued.
    otherwise: Option<Session>,
    requests: Vec<String>,
    pings: usize,
}

pub struct LokiTailServer {
    port: u16,
    state: Arc<Mutex<State>>,
    accept: tokio::task::JoinHandle<()>,
}

impl LokiTailServer {
    pub async fn start(query_range: &str) -> LokiTailServer {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind a loki stand-in");
        let port = listener.local_addr().expect("its address").port();
        let state = Arc::new(Mutex::new(State {
            query_range: query_range.to_string(),
            ..State::default()
        }));
        let accept = {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, Arc::clone(&state)));
                }
            })
        };
        LokiTailServer {
            port,
            state,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set_query_range(&self, body: &str) {
        self.state.lock().expect("state").query_range = body.to_string();
    }

    /// The next tail connection plays `session`.
    pub fn then(&self, session: Session) {
        self.state
            .lock()
            .expect("state")
            .sessions
            .push_back(session);
    }

    /// Every tail connection past the queued ones plays `session`.
    pub fn otherwise(&self, session: Session) {
        self.state.lock().expect("state").otherwise = Some(session);
    }

    /// Request heads received so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().expect("state").requests.clone()
    }

    /// The request heads of one API: `query_range` or `tail`.
    pub fn requests_to(&self, api: &str) -> Vec<String> {
        let prefix = format!("GET /loki/api/v1/{api}?");
        self.requests()
            .into_iter()
            .filter(|h| h.starts_with(&prefix))
            .collect()
    }

    /// The `start` of every tail asked for, in order.
    pub fn tail_starts(&self) -> Vec<i128> {
        self.requests_to("tail")
            .iter()
            .map(|h| {
                param(h, "start")
                    .and_then(|s| s.parse().ok())
                    .expect("a start")
            })
            .collect()
    }

    pub fn pings(&self) -> usize {
        self.state.lock().expect("state").pings
    }
}

impl Drop for LokiTailServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A query parameter of a request head's path, decoded.
pub fn param(head: &str, name: &str) -> Option<String> {
    let query = head.split_whitespace().nth(1)?.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // A client sends nothing after its head before the answer, so reading byte by byte
    // never takes a websocket frame.
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let (session, query_range) = {
        let mut s = state.lock().expect("state");
        s.requests.push(head.clone());
        if path.starts_with("/loki/api/v1/query_range?") {
            (None, Some(s.query_range.clone()))
        } else if path.starts_with("/loki/api/v1/tail?") {
            let next = s.sessions.pop_front().or_else(|| s.otherwise.clone());
            (Some(next.unwrap_or(Session::Steps(Vec::new()))), None)
        } else {
            (None, None)
        }
    };
    if let Some(body) = query_range {
        let _ = stream
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await;
        return;
    }
    let Some(session) = session else {
        return;
    };
    let steps = match session {
        Session::Refuse(status) => {
            let body = "404 page not found\n";
            let _ = stream
                .write_all(
                    format!(
                        "HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
            return;
        }
        Session::Steps(steps) => steps,
    };
    let key = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    let start: i128 = param(&head, "start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut ws = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
    for step in steps {
        match step {
            Step::Send(message) => {
                let Some(message) = from_start(message, start) else {
                    continue;
                };
                if ws.send(message).await.is_err() {
                    return;
                }
            }
            Step::Listen(span) => {
                let until = tokio::time::Instant::now() + span;
                while let Ok(Some(Ok(m))) = tokio::time::timeout_at(until, ws.next()).await {
                    if matches!(m, Message::Ping(_)) {
                        state.lock().expect("state").pings += 1;
                    }
                }
            }
            Step::Mute => {
                // Held, never read, until the client closes and the runtime ends.
                std::future::pending::<()>().await;
            }
            Step::Close => {
                let _ = ws.close(None).await;
                return;
            }
        }
    }
    while let Some(Ok(m)) = ws.next().await {
        if matches!(m, Message::Ping(_)) {
            state.lock().expect("state").pings += 1;
        }
    }
}

/// `message` without the entries older than `start`; nothing if none is left.
fn from_start(message: Message, start: i128) -> Option<Message> {
    let Message::Text(text) = &message else {
        return Some(message);
    };
    let Ok(mut json) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
        return Some(message);
    };
    let Some(streams) = json.get_mut("streams").and_then(|s| s.as_array_mut()) else {
        return Some(message);
    };
    let mut left = 0;
    for stream in streams.iter_mut() {
        if let Some(values) = stream.get_mut("values").and_then(|v| v.as_array_mut()) {
            values.retain(|v| {
                v.get(0)
                    .and_then(|t| t.as_str())
                    .and_then(|t| t.parse::<i128>().ok())
                    .is_none_or(|t| t >= start)
            });
            left += values.len();
        }
    }
    let dropped = json
        .get("dropped_entries")
        .and_then(|d| d.as_array())
        .is_some_and(|d| !d.is_empty());
    (left > 0 || dropped).then(|| Message::text(json.to_string()))
}

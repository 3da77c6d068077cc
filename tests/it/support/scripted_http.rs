//! An HTTP/1.1 server that answers from a script: for services that cannot run here
//! (Elasticsearch, Mastodon's streaming server), it serves their recorded answers by path,
//! and can also hang, send garbage, chunk its body or demand basic auth.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, content type and body, with Content-Length.
    Body(u16, &'static str, Vec<u8>),
    /// The body in two chunks, `Transfer-Encoding: chunked`.
    Chunked(u16, Vec<u8>),
    /// Reads the request and never answers.
    Hang,
}

impl Reply {
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply::Body(200, "application/json", body.into())
    }
}

#[derive(Default)]
struct Script {
    routes: HashMap<String, Reply>,
    /// Replies for a path whatever its query string, when no exact route matches.
    any_query: HashMap<String, Reply>,
    /// `Authorization` header value every request must carry, if set.
    auth: Option<String>,
    requests: Vec<String>,
}

pub struct ScriptedHttp {
    port: u16,
    script: Arc<Mutex<Script>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedHttp {
    pub fn start() -> ScriptedHttp {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a scripted server");
        let port = listener
            .local_addr()
            .expect("scripted server address")
            .port();
        let script = Arc::new(Mutex::new(Script::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (script, stop) = (Arc::clone(&script), Arc::clone(&stop));
            std::thread::spawn(move || {
                // Hung connections are held here until the server is dropped.
                let held = Arc::new(Mutex::new(Vec::new()));
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
                    let (script, held) = (Arc::clone(&script), Arc::clone(&held));
                    std::thread::spawn(move || serve(stream, &script, &held));
                }
            })
        };
        ScriptedHttp {
            port,
            script,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `path` includes the query string, as the client sends it.
    pub fn route(&self, path: &str, reply: Reply) {
        self.script
            .lock()
            .expect("script lock")
            .routes
            .insert(path.to_string(), reply);
    }

    /// `path` without a query string: answers every query of it that has no exact route
    /// (a client that puts the time in its query).
    pub fn route_any_query(&self, path: &str, reply: Reply) {
        self.script
            .lock()
            .expect("script lock")
            .any_query
            .insert(path.to_string(), reply);
    }

    pub fn require_auth(&self, header_value: &str) {
        self.script.lock().expect("script lock").auth = Some(header_value.to_string());
    }

    /// Request heads received so far.
    pub fn requests(&self) -> Vec<String> {
        self.script.lock().expect("script lock").requests.clone()
    }
}

impl Drop for ScriptedHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, script: &Mutex<Script>, held: &Mutex<Vec<TcpStream>>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => head.push_str(&line),
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let (reply, authorized) = {
        let mut s = script.lock().expect("script lock");
        s.requests.push(head.clone());
        let authorized = s.auth.as_ref().is_none_or(|want| {
            head.lines()
                .any(|l| l.eq_ignore_ascii_case(&format!("authorization: {want}")))
        });
        let bare = path.split('?').next().unwrap_or("");
        let reply = s
            .routes
            .get(&path)
            .or_else(|| s.any_query.get(bare))
            .cloned();
        (reply, authorized)
    };
    let mut stream = stream;
    let reply = if authorized {
        reply.unwrap_or(Reply::Body(404, "text/plain", b"no such path".to_vec()))
    } else {
        Reply::Body(
            401,
            "application/json",
            br#"{"error":"unauthorized"}"#.to_vec(),
        )
    };
    match reply {
        Reply::Hang => {
            held.lock().expect("held lock").push(stream);
        }
        Reply::Body(status, content_type, body) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
        Reply::Chunked(status, body) => {
            let (a, b) = body.split_at(body.len() / 2);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
                a.len()
            );
            let _ = stream.write_all(a);
            let _ = write!(stream, "\r\n{:x}\r\n", b.len());
            let _ = stream.write_all(b);
            let _ = stream.write_all(b"\r\n0\r\n\r\n");
        }
    }
}

//! A TCP proxy in front of a real server that can be frozen: while frozen it keeps reading
//! the server's answers but holds them back, so a client sees a backend that stops
//! answering mid-conversation. Used to prove that a poll dropped at its deadline leaves a
//! source usable.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    frozen: AtomicBool,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Both ends of every proxied connection, shut down when the proxy is dropped.
    sockets: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// Forwards 127.0.0.1:`self.port()` to 127.0.0.1:`upstream_port`.
    pub fn start(upstream_port: u16) -> Self {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy listener");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            frozen: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            sockets: Mutex::new(Vec::new()),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = conn else { continue };
                    let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream_port))
                    else {
                        continue;
                    };
                    shared.accepted.fetch_add(1, Ordering::SeqCst);
                    pipe(&shared, client, server);
                }
            })
        };
        Proxy {
            port,
            shared,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on, answers from the server are held back.
    pub fn freeze(&self) {
        self.shared.frozen.store(true, Ordering::SeqCst);
    }

    /// Answers flow again, the held ones first.
    pub fn thaw(&self) {
        self.shared.frozen.store(false, Ordering::SeqCst);
    }

    /// How many client connections it has forwarded.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

fn pipe(shared: &Arc<Shared>, client: TcpStream, server: TcpStream) {
    let clones = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    );
    let (Ok(client_read), Ok(server_write), Ok(client_keep), Ok(server_keep)) = clones else {
        return;
    };
    if let Ok(mut sockets) = shared.sockets.lock() {
        sockets.push(client_keep);
        sockets.push(server_keep);
    }
    // Requests always flow.
    std::thread::spawn(move || copy(client_read, server_write, None));
    // Answers stop while frozen.
    let shared = Arc::clone(shared);
    std::thread::spawn(move || copy(server, client, Some(shared)));
}

fn copy(mut from: TcpStream, mut to: TcpStream, gate: Option<Arc<Shared>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(gate) = &gate {
            while gate.frozen.load(Ordering::SeqCst) && !gate.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Ok(sockets) = self.shared.sockets.lock() {
            for s in sockets.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

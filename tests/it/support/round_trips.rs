//! A TCP proxy that counts connections and round trips: each time the client starts
//! sending again after the server has answered is one more round trip. A pipeline written
//! in several TCP segments is still one, because nothing came back in between. This is how
//! a test proves a refresh costs a fixed number of round trips without timing anything.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

#[derive(Default)]
struct Counts {
    /// Whether the last bytes seen went client → server.
    sending: bool,
    round_trips: usize,
    bytes_up: usize,
    bytes_down: usize,
    /// Connections the client opened, also those the upstream refused.
    connections: usize,
}

pub struct CountingProxy {
    port: u16,
    counts: Arc<Mutex<Counts>>,
    stop: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl CountingProxy {
    pub fn start(upstream_port: u16) -> Self {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the counting proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let counts = Arc::new(Mutex::new(Counts::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let sockets = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (counts, stop, sockets) =
                (Arc::clone(&counts), Arc::clone(&stop), Arc::clone(&sockets));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = conn else { continue };
                    if let Ok(mut c) = counts.lock() {
                        c.connections += 1;
                    }
                    // With the upstream stopped, the client's connection is closed at once,
                    // as a refused one would be.
                    let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream_port))
                    else {
                        continue;
                    };
                    let handles = (
                        client.try_clone(),
                        server.try_clone(),
                        client.try_clone(),
                        server.try_clone(),
                    );
                    let (Ok(client_read), Ok(server_write), Ok(c_keep), Ok(s_keep)) = handles
                    else {
                        continue;
                    };
                    if let Ok(mut held) = sockets.lock() {
                        held.push(c_keep);
                        held.push(s_keep);
                    }
                    let up = Arc::clone(&counts);
                    std::thread::spawn(move || copy(client_read, server_write, &up, true));
                    let down = Arc::clone(&counts);
                    std::thread::spawn(move || copy(server, client, &down, false));
                }
            })
        };
        CountingProxy {
            port,
            counts,
            stop,
            sockets,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Round trips since the start (or the last [`CountingProxy::reset`]).
    pub fn round_trips(&self) -> usize {
        self.counts.lock().map(|c| c.round_trips).unwrap_or(0)
    }

    /// Bytes the client sent since the start (or the last reset).
    pub fn bytes_up(&self) -> usize {
        self.counts.lock().map(|c| c.bytes_up).unwrap_or(0)
    }

    /// Bytes the server sent back since the start (or the last reset).
    pub fn bytes_down(&self) -> usize {
        self.counts.lock().map(|c| c.bytes_down).unwrap_or(0)
    }

    /// Connections opened through the proxy since the start (not reset).
    pub fn connections(&self) -> usize {
        self.counts.lock().map(|c| c.connections).unwrap_or(0)
    }

    pub fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.round_trips = 0;
            c.bytes_up = 0;
            c.bytes_down = 0;
        }
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream, counts: &Mutex<Counts>, upstream: bool) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Counted before forwarding, so the client cannot have its answer (and send the
        // next request) before this chunk is accounted for.
        if let Ok(mut c) = counts.lock() {
            if upstream {
                if !c.sending {
                    c.round_trips += 1;
                }
                c.sending = true;
                c.bytes_up += n;
            } else {
                c.sending = false;
                c.bytes_down += n;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(sockets) = self.sockets.lock() {
            for s in sockets.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        let _ = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

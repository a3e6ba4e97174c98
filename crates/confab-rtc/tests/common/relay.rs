//! A user-space stretch of network between a client and the SFU, on loopback, that can go
//! dark: the signalling TCP connection and the media UDP flows both cross it.
//!
//! Signalling: a TCP proxy in front of the SFU's HTTP port. Media: the SFU advertises the
//! relay's address (`node_ip` 127.0.0.2, the SFU's own port) as its ICE candidate, and the
//! relay forwards each client's datagrams from an upstream socket of its own, like a NAT.
//! [`Relay::go_dark`] is what a laptop sees when its Wi-Fi drops: open connections close, new
//! ones are refused, and no datagram passes either way until [`Relay::restore`]. Only the
//! client whose media comes from [`OUTAGE_CLIENT_IP`] is hit; others keep their media.
//! [`Relay::impair`] gives that client's media random loss and a fixed delay instead, each
//! way (the kernel here has no `netem`), and [`Relay::limit_upload`] narrows its uplink to a
//! bottleneck: a rate and a queue that drops what would wait longer than it holds.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// The loopback address the SFU advertises for media so that media crosses the relay.
pub const RELAY_MEDIA_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
/// The loopback address the client the outage hits binds its media sockets to.
pub const OUTAGE_CLIENT_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

#[derive(Debug, Default)]
struct Shared {
    dark: AtomicBool,
    /// Only media is dropped; signalling passes.
    media_dark: AtomicBool,
    impairment: Mutex<Option<Impairment>>,
    uplink: Mutex<Option<Bottleneck>>,
    /// Datagrams the impairment or the bottleneck dropped.
    lost: std::sync::atomic::AtomicU64,
    /// The proxied TCP connections, aborted when the relay goes dark.
    connections: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug)]
pub struct Relay {
    /// The signalling URL that goes through the relay.
    pub url: String,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Relays signalling to `sfu_http` and media to `sfu_media` (bound on 127.0.0.1), whose
    /// port the SFU advertises on [`RELAY_MEDIA_IP`].
    pub async fn start(sfu_http: SocketAddr, sfu_media_port: u16) -> Self {
        let shared = Arc::new(Shared::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay port");
        let url = format!("http://{}", listener.local_addr().expect("relay address"));
        let front = UdpSocket::bind(SocketAddr::new(RELAY_MEDIA_IP, sfu_media_port))
            .await
            .expect("the relay's media address");
        let sfu_media = SocketAddr::from(([127, 0, 0, 1], sfu_media_port));
        let tasks = vec![
            tokio::spawn(proxy_signalling(listener, sfu_http, shared.clone())),
            tokio::spawn(relay_media(Arc::new(front), sfu_media, shared.clone())),
        ];
        Self { url, shared, tasks }
    }

    /// Closes every signalling connection; refuses new ones and drops all media until
    /// [`Relay::restore`].
    pub fn go_dark(&self) {
        self.shared.dark.store(true, Ordering::SeqCst);
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for connection in connections {
            connection.abort();
        }
    }

    /// Drops the client's media only (UDP blocked, signalling fine).
    pub fn drop_media(&self) {
        self.shared.media_dark.store(true, Ordering::SeqCst);
    }

    /// Drops `loss` (0..1) of the client's datagrams each way, seeded so runs repeat, and
    /// delays the rest by `delay`.
    pub fn impair(&self, loss: f64, delay: std::time::Duration) {
        *lock(&self.shared.impairment) = Some(Impairment {
            loss,
            delay,
            rng: StdRng::seed_from_u64(5),
        });
    }

    /// From now on the client's datagrams towards the SFU leave at `bits_per_second` at most,
    /// after waiting in a queue of at most `queue` (beyond that they are dropped), like an
    /// uplink whose modem buffer fills. Media towards the client is not limited.
    pub fn limit_upload(&self, bits_per_second: u64, queue: std::time::Duration) {
        *lock(&self.shared.uplink) = Some(Bottleneck {
            bits_per_second,
            queue,
            free_at: std::time::Instant::now(),
        });
    }

    /// How many datagrams [`Relay::impair`] and [`Relay::limit_upload`] dropped so far.
    pub fn lost(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }

    pub fn restore(&self) {
        self.shared.dark.store(false, Ordering::SeqCst);
        self.shared.media_dark.store(false, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.go_dark();
    }
}

#[derive(Debug)]
struct Impairment {
    loss: f64,
    delay: std::time::Duration,
    rng: StdRng,
}

#[derive(Debug)]
struct Bottleneck {
    bits_per_second: u64,
    queue: std::time::Duration,
    /// When the datagrams already queued will have left.
    free_at: std::time::Instant,
}

impl Bottleneck {
    /// How long a datagram of `length` bytes waits before it has left; `None` when the queue
    /// is full and it is dropped.
    fn wait(&mut self, length: usize) -> Option<std::time::Duration> {
        let now = std::time::Instant::now();
        let start = self.free_at.max(now);
        if start.duration_since(now) > self.queue {
            return None;
        }
        let bits = length as u64 * 8;
        self.free_at =
            start + std::time::Duration::from_micros(bits * 1_000_000 / self.bits_per_second);
        Some(self.free_at.duration_since(now))
    }
}

/// What happens to one datagram.
enum Fate {
    Pass,
    Drop,
    Delay(std::time::Duration),
}

impl Shared {
    fn fate(&self, client: SocketAddr) -> Fate {
        if client.ip() != OUTAGE_CLIENT_IP {
            return Fate::Pass;
        }
        if self.dark.load(Ordering::SeqCst) || self.media_dark.load(Ordering::SeqCst) {
            return Fate::Drop;
        }
        let mut impairment = lock(&self.impairment);
        let Some(impairment) = impairment.as_mut() else {
            return Fate::Pass;
        };
        if impairment.rng.random_bool(impairment.loss) {
            self.lost.fetch_add(1, Ordering::Relaxed);
            Fate::Drop
        } else {
            Fate::Delay(impairment.delay)
        }
    }
}

impl Shared {
    /// [`Shared::fate`] of a datagram of `length` bytes from `client` towards the SFU, which
    /// also crosses the uplink's bottleneck when there is one.
    fn upload_fate(&self, client: SocketAddr, length: usize) -> Fate {
        let fate = self.fate(client);
        if client.ip() != OUTAGE_CLIENT_IP || matches!(fate, Fate::Drop) {
            return fate;
        }
        let mut uplink = lock(&self.uplink);
        let Some(bottleneck) = uplink.as_mut() else {
            return fate;
        };
        let Some(wait) = bottleneck.wait(length) else {
            self.lost.fetch_add(1, Ordering::Relaxed);
            return Fate::Drop;
        };
        match fate {
            Fate::Delay(delay) => Fate::Delay(delay + wait),
            _ => Fate::Delay(wait),
        }
    }
}

/// Sends `datagram` from `socket` to `to` now, after a delay, or not at all.
async fn forward(socket: &Arc<UdpSocket>, datagram: &[u8], to: SocketAddr, fate: Fate) {
    match fate {
        Fate::Drop => {}
        Fate::Pass => {
            let _ = socket.send_to(datagram, to).await;
        }
        Fate::Delay(delay) => {
            let socket = socket.clone();
            let datagram = datagram.to_vec();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = socket.send_to(&datagram, to).await;
            });
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn proxy_signalling(listener: TcpListener, sfu: SocketAddr, shared: Arc<Shared>) {
    while let Ok((mut client, _)) = listener.accept().await {
        if shared.dark.load(Ordering::SeqCst) {
            // Refused: the client sees the connection close before the handshake.
            drop(client);
            continue;
        }
        let connection = tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(sfu).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
        let mut connections = lock(&shared.connections);
        connections.retain(|c| !c.is_finished());
        connections.push(connection);
    }
}

/// Forwards client datagrams to the SFU from one upstream socket per client, and the SFU's
/// answers back; nothing passes while dark.
async fn relay_media(front: Arc<UdpSocket>, sfu: SocketAddr, shared: Arc<Shared>) {
    let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buffer = vec![0u8; 2048];
    while let Ok((length, client)) = front.recv_from(&mut buffer).await {
        let fate = shared.upload_fate(client, length);
        if matches!(fate, Fate::Drop) {
            continue;
        }
        let upstream = match upstreams.get(&client) {
            Some(upstream) => upstream.clone(),
            None => {
                let Ok(socket) = UdpSocket::bind("127.0.0.1:0").await else {
                    continue;
                };
                let socket = Arc::new(socket);
                upstreams.insert(client, socket.clone());
                tokio::spawn(relay_back(
                    socket.clone(),
                    front.clone(),
                    client,
                    shared.clone(),
                ));
                socket
            }
        };
        forward(&upstream, &buffer[..length], sfu, fate).await;
    }
}

async fn relay_back(
    upstream: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
    shared: Arc<Shared>,
) {
    let mut buffer = vec![0u8; 2048];
    while let Ok(length) = upstream.recv(&mut buffer).await {
        forward(&front, &buffer[..length], client, shared.fate(client)).await;
    }
}

//! ICE over TCP (RFC 6544), the active side: for networks that drop UDP (corporate
//! firewalls). Each transport offers a TCP candidate beside its UDP one; str0m checks the
//! server's *passive* TCP candidates (LiveKit's port 7881) with a lower priority than UDP, so
//! TCP only carries media when UDP gets no answer. [`TcpPaths`] makes one outgoing connection
//! per candidate str0m sends to and carries its datagrams (STUN, then DTLS, SRTP and SCTP),
//! each framed by a two-byte length (RFC 4571).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The largest datagram the two-byte length of RFC 4571 can frame.
pub const MAX_DATAGRAM: usize = u16::MAX as usize;
/// Connections one transport makes at most: a server offers one or two TCP candidates, and a
/// hostile one must not make us open hundreds.
const MAX_CONNECTIONS: usize = 4;
/// Datagrams queued for one connection before newer ones are dropped, as a full UDP socket
/// buffer would (about a second of 720p simulcast).
const SEND_QUEUE: usize = 1024;
/// Datagrams read from every connection and not yet taken by the engine.
const RECEIVE_QUEUE: usize = 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// After a connection to a candidate closes or fails, datagrams to it are dropped this long
/// before it is tried again: without a network, every transmit would otherwise start a
/// connection attempt that fails at once (ICE checks retry on their own schedule anyway).
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// Queued datagrams written with one system call at most.
const WRITE_BATCH: usize = 64;

/// The outgoing TCP connections of one transport.
#[derive(Debug)]
pub struct TcpPaths {
    local_ip: IpAddr,
    connections: HashMap<SocketAddr, Connection>,
    /// Candidates whose connection ended, and when they may be tried again.
    resting: HashMap<SocketAddr, Instant>,
    input_sender: mpsc::Sender<Input>,
    input: mpsc::Receiver<Input>,
}

#[derive(Debug)]
struct Connection {
    outgoing: mpsc::Sender<Vec<u8>>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
enum Input {
    Datagram {
        source: SocketAddr,
        contents: Vec<u8>,
    },
    Closed(SocketAddr),
}

impl TcpPaths {
    /// Connections will leave from `local_ip` (the address the transport's UDP socket has).
    pub fn new(local_ip: IpAddr) -> Self {
        let (input_sender, input) = mpsc::channel(RECEIVE_QUEUE);
        Self {
            local_ip,
            connections: HashMap::new(),
            resting: HashMap::new(),
            input_sender,
            input,
        }
    }

    /// Sends one datagram to `destination`, connecting first if there is no connection yet
    /// and the datagram is a STUN message: a connection must begin with a connectivity check
    /// (RFC 6544; LiveKit's server closes one that begins with anything else, which is what
    /// media on a pair whose connection broke would otherwise do). Like UDP, a datagram may be
    /// dropped: when there is no connection for it, or its queue is full.
    pub fn send(&mut self, destination: SocketAddr, contents: Vec<u8>) {
        if contents.len() > MAX_DATAGRAM {
            tracing::debug!(%destination, bytes = contents.len(), "datagram too large for TCP framing");
            return;
        }
        if !self.connections.contains_key(&destination) {
            if !is_stun(&contents) {
                tracing::trace!(%destination, "no ICE-TCP connection for media yet; dropped");
                return;
            }
            if let Some(until) = self.resting.get(&destination) {
                if Instant::now() < *until {
                    return;
                }
                self.resting.remove(&destination);
            }
            if self.connections.len() >= MAX_CONNECTIONS {
                tracing::debug!(%destination, "too many ICE-TCP connections; datagram dropped");
                return;
            }
            let connection =
                Connection::open(self.local_ip, destination, self.input_sender.clone());
            self.connections.insert(destination, connection);
        }
        let Some(connection) = self.connections.get(&destination) else {
            return;
        };
        if let Err(error) = connection.outgoing.try_send(contents) {
            tracing::trace!(%destination, %error, "ICE-TCP datagram dropped");
        }
    }

    /// The next datagram that arrived on any connection, as `(source, contents)`. A closed
    /// connection is forgotten here, so the next datagram to its address connects again.
    pub async fn recv(&mut self) -> (SocketAddr, Vec<u8>) {
        loop {
            // This holds a sender itself, so the channel never closes.
            let Some(input) = self.input.recv().await else {
                return std::future::pending().await;
            };
            match input {
                Input::Datagram { source, contents } => return (source, contents),
                Input::Closed(address) => {
                    self.connections.remove(&address);
                    self.resting.insert(address, Instant::now() + RETRY_AFTER);
                }
            }
        }
    }
}

impl Drop for TcpPaths {
    fn drop(&mut self) {
        for connection in self.connections.values() {
            connection.task.abort();
        }
    }
}

impl Connection {
    fn open(local_ip: IpAddr, destination: SocketAddr, input: mpsc::Sender<Input>) -> Self {
        let (outgoing, queue) = mpsc::channel(SEND_QUEUE);
        let task = tokio::spawn(async move {
            match carry(local_ip, destination, queue, &input).await {
                Ok(()) => tracing::debug!(%destination, "ICE-TCP connection closed"),
                Err(error) => tracing::debug!(%destination, %error, "ICE-TCP connection ended"),
            }
            let _ = input.send(Input::Closed(destination)).await;
        });
        Self { outgoing, task }
    }
}

/// Connects to `destination` and carries datagrams both ways until either side stops.
async fn carry(
    local_ip: IpAddr,
    destination: SocketAddr,
    queue: mpsc::Receiver<Vec<u8>>,
    input: &mpsc::Sender<Input>,
) -> io::Result<()> {
    let socket = if destination.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(local_ip, 0))?;
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(destination))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    stream.set_nodelay(true)?;
    tracing::debug!(%destination, "ICE-TCP connected");
    let (reader, writer) = stream.into_split();
    tokio::select! {
        read = read_datagrams(reader, destination, input) => read,
        written = write_datagrams(writer, queue) => written,
    }
}

async fn read_datagrams(
    mut reader: OwnedReadHalf,
    source: SocketAddr,
    input: &mpsc::Sender<Input>,
) -> io::Result<()> {
    let mut deframer = Deframer::default();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        for contents in deframer.push(&buffer[..read]) {
            if input
                .send(Input::Datagram { source, contents })
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }
}

async fn write_datagrams(
    mut writer: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Vec<u8>>,
) -> io::Result<()> {
    let mut batch = Vec::new();
    while let Some(first) = queue.recv().await {
        batch.clear();
        frame_into(&mut batch, &first);
        for _ in 1..WRITE_BATCH {
            let Ok(next) = queue.try_recv() else { break };
            frame_into(&mut batch, &next);
        }
        writer.write_all(&batch).await?;
    }
    Ok(())
}

/// STUN's first byte is 0 or 1 (RFC 7983); DTLS starts at 20 and RTP at 128.
pub(crate) fn is_stun(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|byte| *byte < 2)
}

/// Appends `datagram` with its RFC 4571 length (callers keep it within [`MAX_DATAGRAM`]).
fn frame_into(out: &mut Vec<u8>, datagram: &[u8]) {
    let length = u16::try_from(datagram.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&datagram[..usize::from(length)]);
}

/// Splits an RFC 4571 byte stream back into datagrams, however the reads cut it.
#[derive(Debug, Default)]
struct Deframer {
    pending: Vec<u8>,
}

impl Deframer {
    fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(bytes);
        let mut datagrams = Vec::new();
        let mut at = 0;
        while let Some(header) = self.pending.get(at..at + 2) {
            let length = usize::from(u16::from_be_bytes([header[0], header[1]]));
            let Some(datagram) = self.pending.get(at + 2..at + 2 + length) else {
                break;
            };
            if length > 0 {
                datagrams.push(datagram.to_vec());
            }
            at += 2 + length;
        }
        self.pending.drain(..at);
        datagrams
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(datagrams: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for datagram in datagrams {
            frame_into(&mut out, datagram);
        }
        out
    }

    #[test]
    fn datagrams_survive_any_cut_of_the_stream() {
        let datagrams: [&[u8]; 4] = [b"stun", &[7u8; 1200], b"", b"x"];
        let stream = framed(&datagrams);
        for cut in 0..stream.len() {
            let mut deframer = Deframer::default();
            let mut out = deframer.push(&stream[..cut]);
            out.extend(deframer.push(&stream[cut..]));
            assert_eq!(
                out,
                vec![b"stun".to_vec(), vec![7u8; 1200], b"x".to_vec()],
                "cut {cut}"
            );
            assert!(deframer.pending.is_empty());
        }
    }

    #[test]
    fn a_byte_at_a_time_gives_the_same_datagrams() {
        let stream = framed(&[b"first", b"second"]);
        let mut deframer = Deframer::default();
        let out: Vec<Vec<u8>> = stream.iter().flat_map(|b| deframer.push(&[*b])).collect();
        assert_eq!(out, vec![b"first".to_vec(), b"second".to_vec()]);
    }

    #[tokio::test]
    async fn datagrams_cross_a_connection_both_ways() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let address = listener.local_addr().expect("address");
        let echo = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut deframer = Deframer::default();
            let mut buffer = [0u8; 4096];
            loop {
                let read = stream.read(&mut buffer).await.expect("read");
                if read == 0 {
                    return;
                }
                for datagram in deframer.push(&buffer[..read]) {
                    let reply: Vec<u8> = datagram.iter().rev().copied().collect();
                    stream.write_all(&framed(&[&reply])).await.expect("write");
                }
            }
        });
        let mut paths = TcpPaths::new(IpAddr::from([127, 0, 0, 1]));
        // Media cannot open a connection; a STUN message does, and media follows it.
        paths.send(address, vec![128, 1, 2]);
        assert!(paths.connections.is_empty(), "media opened a connection");
        paths.send(address, b"\x00abc".to_vec());
        paths.send(address, b"\x80hello".to_vec());
        let wait = Duration::from_secs(5);
        let first = tokio::time::timeout(wait, paths.recv())
            .await
            .expect("reply");
        let second = tokio::time::timeout(wait, paths.recv())
            .await
            .expect("reply");
        assert_eq!(first, (address, b"cba\x00".to_vec()));
        assert_eq!(second, (address, b"olleh\x80".to_vec()));
        assert_eq!(paths.connections.len(), 1, "one connection carries both");
        drop(paths);
        tokio::time::timeout(wait, echo)
            .await
            .expect("echo ends")
            .expect("echo");
    }

    #[tokio::test]
    async fn a_refused_connection_is_forgotten_and_retried_after_a_rest() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let mut paths = TcpPaths::new(IpAddr::from([127, 0, 0, 1]));
        paths.send(address, b"\x00nobody".to_vec());
        // The refusal removes the connection inside `recv`, which then waits for data.
        let waited = tokio::time::timeout(Duration::from_secs(2), paths.recv()).await;
        assert!(waited.is_err(), "no datagram from a refused connection");
        assert!(
            paths.connections.is_empty(),
            "the refused connection is forgotten"
        );
        assert!(paths.resting.contains_key(&address), "the candidate rests");
        // While it rests a datagram opens no connection; once the rest is over, one does.
        paths
            .resting
            .insert(address, Instant::now() + Duration::from_secs(60));
        paths.send(address, b"\x00again".to_vec());
        assert!(paths.connections.is_empty(), "no new attempt while resting");
        paths.resting.insert(address, Instant::now());
        paths.send(address, b"\x00later".to_vec());
        assert_eq!(paths.connections.len(), 1, "tried again after the rest");
    }
}

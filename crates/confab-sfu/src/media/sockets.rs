//! The UDP side of the media plane: one socket on the media port, the address advertised in
//! ICE candidates, and the tasks that feed received datagrams and timer ticks to the hub.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::transport::Datagram;

/// Largest datagram we read; WebRTC keeps packets under the path MTU.
const RECEIVE_BUFFER_BYTES: usize = 2048;

/// Where media is received and which address clients are told to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Address the UDP socket binds to; unspecified means all interfaces.
    pub bind: IpAddr,
    /// The media port (0 picks a free one, for tests).
    pub udp_port: u16,
    /// The only address put in ICE candidates. Without it: the bind address, or for all
    /// interfaces the address of the interface that holds the default route (the LAN address).
    pub node_ip: Option<IpAddr>,
}

impl MediaConfig {
    pub const DEFAULT_UDP_PORT: u16 = 7882;
}

#[derive(Debug, thiserror::Error)]
pub enum MediaSocketError {
    #[error("cannot bind the media port {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
    #[error("no address to advertise for media; pass --node-ip")]
    NoAddress,
}

/// The bound media socket and the address clients reach it at.
#[derive(Debug)]
pub struct MediaSockets {
    socket: Arc<UdpSocket>,
    advertised: SocketAddr,
}

impl MediaSockets {
    pub async fn bind(config: &MediaConfig) -> Result<Self, MediaSocketError> {
        let address = SocketAddr::new(config.bind, config.udp_port);
        let socket = UdpSocket::bind(address)
            .await
            .map_err(|source| MediaSocketError::Bind { address, source })?;
        let local = socket
            .local_addr()
            .map_err(|source| MediaSocketError::Bind { address, source })?;
        let ip = match config.node_ip {
            Some(ip) => ip,
            None if !config.bind.is_unspecified() => config.bind,
            None => lan_address().ok_or(MediaSocketError::NoAddress)?,
        };
        Ok(Self {
            socket: Arc::new(socket),
            advertised: SocketAddr::new(ip, local.port()),
        })
    }

    /// The host candidate clients connect to.
    pub fn advertised(&self) -> SocketAddr {
        self.advertised
    }

    pub fn socket(&self) -> Arc<UdpSocket> {
        self.socket.clone()
    }

    /// Sends without waiting: a full socket buffer drops the datagram, as the network would.
    pub fn send(&self, datagram: &Datagram) {
        if let Err(error) = self
            .socket
            .try_send_to(&datagram.contents, datagram.destination)
        {
            tracing::trace!(%error, destination = %datagram.destination, "datagram not sent");
        }
    }
}

/// Reads datagrams until the socket fails for good, handing each to `deliver` with its source.
pub async fn receive_loop(socket: Arc<UdpSocket>, mut deliver: impl FnMut(SocketAddr, &[u8])) {
    let mut buffer = vec![0u8; RECEIVE_BUFFER_BYTES];
    loop {
        match socket.recv_from(&mut buffer).await {
            Ok((length, source)) => deliver(source, &buffer[..length]),
            // ICMP errors for earlier sends surface here on some systems; the socket is fine.
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {}
            Err(error) => {
                tracing::error!(%error, "media socket failed");
                return;
            }
        }
    }
}

/// The address of the interface holding the default route. Connecting a UDP socket only
/// selects a route; nothing is sent.
pub fn lan_address() -> Option<IpAddr> {
    let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    // TEST-NET-1 (RFC 5737): never routed anywhere, but it makes the kernel pick the default
    // route's source address.
    probe.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

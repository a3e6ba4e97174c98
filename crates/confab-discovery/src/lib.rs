//! Meetings on the LAN. A hosting app advertises each open meeting as an mDNS service
//! (`_confab._tcp`) whose TXT record carries a salted, stretched hash of the code
//! ([`confab_conference::code::discovery_hash`]) and never the code: someone who types the code
//! finds the host, someone listening on the network learns nothing. Meetings their host chose
//! to list also carry their title, for the home screen's "nearby meetings".

mod records;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use confab_conference::OpenMeeting;
use confab_ipc::MeetingCode;
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use records::{Advertisement, SERVICE_TYPE};

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("mDNS is not available: {0}")]
    Mdns(#[from] mdns_sd::Error),
}

/// Which network interfaces mDNS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interfaces {
    /// Every interface but loopback (a host serving the whole LAN).
    Lan,
    /// Only the interface that holds this address (a host bound to it).
    Only(IpAddr),
}

fn daemon(interfaces: Interfaces) -> Result<ServiceDaemon, DiscoveryError> {
    let daemon = ServiceDaemon::new()?;
    match interfaces {
        Interfaces::Lan => {
            daemon.disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])?;
        }
        Interfaces::Only(address) => {
            daemon.disable_interface(IfKind::All)?;
            daemon.enable_interface(IfKind::Addr(address))?;
        }
    }
    Ok(daemon)
}

/// Advertises the open meetings of a host whose conference API is on `port`, following
/// `meetings` as they open and end, until dropped.
#[derive(Debug)]
pub struct Advertiser {
    task: JoinHandle<()>,
}

impl Advertiser {
    pub fn start(
        interfaces: Interfaces,
        port: u16,
        mut meetings: watch::Receiver<Vec<OpenMeeting>>,
    ) -> Result<Self, DiscoveryError> {
        let daemon = daemon(interfaces)?;
        let host_name = format!("confab-{}.local.", records::random_hex(4));
        let task = tokio::spawn(async move {
            let mut advertised: Vec<Advertisement> = Vec::new();
            loop {
                let open = meetings.borrow_and_update().clone();
                advertised = sync(&daemon, &host_name, port, advertised, &open).await;
                if meetings.changed().await.is_err() {
                    break;
                }
            }
            for gone in advertised {
                let _ = daemon.unregister(&gone.fullname());
            }
            let _ = daemon.shutdown();
        });
        Ok(Self { task })
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Registers the meetings that opened and withdraws those that ended; returns what is
/// advertised now.
async fn sync(
    daemon: &ServiceDaemon,
    host_name: &str,
    port: u16,
    advertised: Vec<Advertisement>,
    open: &[OpenMeeting],
) -> Vec<Advertisement> {
    let (kept, gone): (Vec<Advertisement>, Vec<Advertisement>) = advertised
        .into_iter()
        .partition(|ad| open.iter().any(|meeting| ad.is_for(meeting)));
    for ad in gone {
        if let Err(error) = daemon.unregister(&ad.fullname()) {
            tracing::debug!(%error, "withdrawing an ended meeting");
        }
    }
    let mut now = kept;
    for meeting in open {
        if now.iter().any(|ad| ad.is_for(meeting)) {
            continue;
        }
        // The hash is slow on purpose: off the async threads.
        let prepared = {
            let meeting = meeting.clone();
            tokio::task::spawn_blocking(move || Advertisement::new(&meeting)).await
        };
        let Ok(ad) = prepared else {
            continue;
        };
        match ad
            .service(host_name, port)
            .and_then(|service| daemon.register(service))
        {
            Ok(()) => now.push(ad),
            Err(error) => tracing::warn!(%error, "cannot advertise a meeting on the LAN"),
        }
    }
    now
}

/// A meeting some host near us lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearbyMeeting {
    pub title: String,
    pub code: MeetingCode,
    /// The host's conference API.
    pub address: SocketAddr,
}

/// Looks for the host of the meeting with `code` for up to `within`.
pub async fn find_meeting(
    code: &MeetingCode,
    interfaces: Interfaces,
    within: Duration,
) -> Result<Option<SocketAddr>, DiscoveryError> {
    let code = code.clone();
    let found = browse(interfaces, within, Some(1), move |found| {
        found.matches(&code).then(|| found.address()).flatten()
    })
    .await?;
    Ok(found.into_iter().next())
}

/// The meetings hosts near us list, heard within `within`.
pub async fn nearby_meetings(
    interfaces: Interfaces,
    within: Duration,
) -> Result<Vec<NearbyMeeting>, DiscoveryError> {
    let mut all = browse(interfaces, within, None, |found| {
        Some(NearbyMeeting {
            title: found.title()?.to_owned(),
            code: found.code()?,
            address: found.address()?,
        })
    })
    .await?;
    all.sort_by(|a, b| (&a.title, a.code.as_str()).cmp(&(&b.title, b.code.as_str())));
    all.dedup();
    Ok(all)
}

/// Browses for `within`, keeping what `pick` returns for each service heard (once per
/// service), and stops early once `enough` were picked.
async fn browse<T: Send + 'static>(
    interfaces: Interfaces,
    within: Duration,
    enough: Option<usize>,
    pick: impl Fn(&records::Found) -> Option<T> + Send + 'static,
) -> Result<Vec<T>, DiscoveryError> {
    let daemon = daemon(interfaces)?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let picked = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + within;
        let mut picked = Vec::new();
        let mut heard = std::collections::HashSet::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            if enough.is_some_and(|enough| picked.len() >= enough) {
                break;
            }
            match events.recv_timeout(left) {
                Ok(ServiceEvent::ServiceResolved(service)) => {
                    if !heard.insert(service.fullname.clone()) {
                        continue;
                    }
                    if let Some(found) = records::Found::from_service(&service)
                        && let Some(value) = pick(&found)
                    {
                        picked.push(value);
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        picked
    })
    .await
    .unwrap_or_default();
    let _ = daemon.shutdown();
    Ok(picked)
}

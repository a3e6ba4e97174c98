//! `confab discover [CODE]`: the LAN's meetings through mDNS. With a code, prints
//! `meeting-found <address>` for its host (exit 0) or `meeting-not-found` (exit 69); without
//! one, a JSON line per meeting its host lists.

use std::time::Duration;

use confab_discovery::{DiscoveryError, Interfaces};
use confab_ipc::{MeetingCode, MeetingCodeError};

use crate::cli::DiscoverArgs;

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    Code(#[from] MeetingCodeError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("no meeting with this code answered on the LAN")]
    NotFound,
}

pub fn run(args: &DiscoverArgs) -> Result<(), DiscoverError> {
    let interfaces = args.bind.map_or(Interfaces::Lan, Interfaces::Only);
    let within = Duration::from_secs_f64(args.seconds);
    let code = args.code.as_deref().map(MeetingCode::parse).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(DiscoverError::Runtime)?;
    runtime.block_on(async {
        match code {
            Some(code) => match confab_discovery::find_meeting(&code, interfaces, within).await? {
                Some(address) => {
                    println!("meeting-found {address}");
                    Ok(())
                }
                None => {
                    println!("meeting-not-found");
                    Err(DiscoverError::NotFound)
                }
            },
            None => {
                for meeting in confab_discovery::nearby_meetings(interfaces, within).await? {
                    let line = serde_json::json!({
                        "title": meeting.title,
                        "code": meeting.code.to_string(),
                        "address": meeting.address.to_string(),
                    });
                    println!("{line}");
                }
                Ok(())
            }
        }
    })
}

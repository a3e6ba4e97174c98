//! Getting a dropped connection back, the way LiveKit's SDKs do: first *resume* the session
//! (the server kept the participant, its tracks and subscriptions; both transports restart
//! ICE), and when the server cannot resume it, *rejoin* (a new session; the engine publishes
//! its tracks again). Attempts follow [`ReconnectSchedule`]; the room ends when the schedule
//! runs out or the server refuses us outright.
//!
//! This module decides *when* and *what*; the engine applies what an attempt brings back.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::events::DisconnectReason;
use crate::reconnect::ReconnectSchedule;
use crate::signal::{self, JoinQuery, Keepalive, SignalError};

/// How long media may take to come back once signalling did; then the session is rejoined.
pub const MEDIA_RECOVERY_LIMIT: Duration = Duration::from_secs(10);

/// What the client needs to reach the server again.
#[derive(Debug, Clone)]
pub struct Dial {
    pub server: String,
    /// The latest token: the server may send a fresh one (`refresh_token`).
    pub token: String,
    pub query: JoinQuery,
    pub bind_ip: IpAddr,
}

/// What the next attempt does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Resume,
    Rejoin,
}

/// What a successful attempt brought back.
#[derive(Debug)]
pub enum Reconnected {
    Resumed(signal::Resumed),
    Rejoined {
        joined: Box<signal::Joined>,
        sockets: [UdpSocket; 2],
    },
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error(transparent)]
    Signal(#[from] SignalError),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Setup(String),
    #[error("the attempt was cancelled")]
    Cancelled,
}

impl From<super::RoomError> for AttemptError {
    fn from(error: super::RoomError) -> Self {
        Self::Setup(error.to_string())
    }
}

#[derive(Debug)]
enum Phase {
    /// The next attempt starts at this time.
    Waiting(Instant),
    Connecting(JoinHandle<Result<Reconnected, AttemptError>>),
    /// Signalling is back; media has until this time to reconnect.
    AwaitingMedia(Instant),
}

/// One outage, from the moment it was noticed until the room is back or given up.
#[derive(Debug)]
pub struct Recovery {
    started: Instant,
    attempts: u32,
    step: Step,
    schedule: ReconnectSchedule,
    phase: Phase,
}

impl Drop for Recovery {
    fn drop(&mut self) {
        if let Phase::Connecting(task) = &self.phase {
            task.abort();
        }
    }
}

impl Recovery {
    /// Starts recovering now, the first attempt at once.
    pub fn new(now: Instant, step: Step) -> Self {
        Self {
            started: now,
            attempts: 0,
            step,
            schedule: ReconnectSchedule::default(),
            phase: Phase::Waiting(now),
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// Whether signalling is back and only media is awaited.
    pub fn awaits_media(&self) -> bool {
        matches!(self.phase, Phase::AwaitingMedia(_))
    }

    /// When the engine must look at this again.
    pub fn wake_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting(at) | Phase::AwaitingMedia(at) => Some(at),
            Phase::Connecting(_) => None,
        }
    }

    /// Starts the attempt that is due, or gives up on media that did not come back in time.
    pub fn tick(&mut self, now: Instant, dial: &Dial, sid: &str, keepalive: Keepalive) {
        match self.phase {
            Phase::Waiting(at) if at <= now => {
                self.attempts += 1;
                tracing::info!(attempt = self.attempts, step = ?self.step, "reconnecting");
                let task = match self.step {
                    Step::Resume => tokio::spawn(resume(dial.clone(), sid.to_owned(), keepalive)),
                    Step::Rejoin => tokio::spawn(rejoin(dial.clone())),
                };
                self.phase = Phase::Connecting(task);
            }
            Phase::AwaitingMedia(deadline) if deadline <= now => {
                tracing::info!("media did not come back after the resume; rejoining");
                self.step = Step::Rejoin;
                self.phase = Phase::Waiting(now);
            }
            _ => {}
        }
    }

    /// The running attempt's result; never resolves while none runs.
    pub async fn outcome(&mut self) -> Result<Reconnected, AttemptError> {
        let Phase::Connecting(task) = &mut self.phase else {
            return std::future::pending().await;
        };
        let result = task.await.unwrap_or(Err(AttemptError::Cancelled));
        // Until the engine says what happened next, nothing is due.
        self.phase = Phase::AwaitingMedia(Instant::now() + MEDIA_RECOVERY_LIMIT);
        result
    }

    /// Signalling is back (the engine applied what the attempt brought): media has
    /// [`MEDIA_RECOVERY_LIMIT`] to follow.
    pub fn signalling_back(&mut self, now: Instant) {
        self.phase = Phase::AwaitingMedia(now + MEDIA_RECOVERY_LIMIT);
    }

    /// An attempt failed: schedules the next one, or says why the room ends.
    pub fn failed(&mut self, now: Instant, error: &AttemptError) -> Result<(), DisconnectReason> {
        tracing::info!(%error, attempt = self.attempts, "reconnect attempt failed");
        match error {
            AttemptError::Signal(SignalError::Refused { status, reason }) => {
                return Err(DisconnectReason::Refused(format!("{status}: {reason}")));
            }
            AttemptError::Signal(SignalError::LeftBeforeJoin { reason }) => {
                return Err(DisconnectReason::Server(*reason));
            }
            AttemptError::Signal(SignalError::BadUrl(why)) => {
                return Err(DisconnectReason::ConnectionLost(why.clone()));
            }
            AttemptError::Signal(SignalError::RejoinRequired { .. }) => {
                // Not a network problem: the server lost the session. Rejoin at once.
                self.step = Step::Rejoin;
                self.phase = Phase::Waiting(now);
                return Ok(());
            }
            _ => {}
        }
        let elapsed = now.saturating_duration_since(self.started);
        match self.schedule.delay_before(self.attempts, elapsed) {
            Some(delay) => {
                self.phase = Phase::Waiting(now + delay);
                Ok(())
            }
            None => Err(DisconnectReason::ConnectionLost(format!(
                "no connection to the server for {}s ({} attempts); last error: {error}",
                elapsed.as_secs(),
                self.attempts
            ))),
        }
    }
}

async fn resume(
    dial: Dial,
    sid: String,
    keepalive: Keepalive,
) -> Result<Reconnected, AttemptError> {
    let resumed = signal::resume(&dial.server, &dial.token, &dial.query, &sid, keepalive).await?;
    Ok(Reconnected::Resumed(resumed))
}

async fn rejoin(dial: Dial) -> Result<Reconnected, AttemptError> {
    let sockets = bind_media_sockets(dial.bind_ip).await?;
    let joined = signal::connect(&dial.server, &dial.token, &dial.query).await?;
    Ok(Reconnected::Rejoined {
        joined: Box::new(joined),
        sockets,
    })
}

/// The publisher's and the subscriber's UDP sockets.
pub async fn bind_media_sockets(ip: IpAddr) -> std::io::Result<[UdpSocket; 2]> {
    Ok([
        UdpSocket::bind(SocketAddr::new(ip, 0)).await?,
        UdpSocket::bind(SocketAddr::new(ip, 0)).await?,
    ])
}

#[cfg(test)]
mod tests {
    use livekit_protocol as proto;

    use super::*;

    fn unreachable() -> AttemptError {
        AttemptError::Signal(SignalError::Unreachable("refused".into()))
    }

    #[test]
    fn network_failures_wait_for_the_schedule_then_give_up() {
        let start = Instant::now();
        let mut recovery = Recovery::new(start, Step::Resume);
        assert_eq!(recovery.wake_at(), Some(start));
        recovery.attempts = 1;
        recovery.failed(start, &unreachable()).expect("retries");
        assert_eq!(recovery.wake_at(), Some(start + Duration::from_millis(300)));
        assert_eq!(recovery.step(), Step::Resume);
        let late = start + ReconnectSchedule::DEFAULT_BUDGET;
        let ended = recovery.failed(late, &unreachable()).expect_err("gives up");
        assert!(matches!(ended, DisconnectReason::ConnectionLost(_)));
    }

    #[test]
    fn a_server_that_lost_the_session_is_rejoined_at_once() {
        let start = Instant::now();
        let mut recovery = Recovery::new(start, Step::Resume);
        let later = start + Duration::from_secs(2);
        let refused = AttemptError::Signal(SignalError::RejoinRequired {
            reason: proto::DisconnectReason::StateMismatch,
        });
        recovery.failed(later, &refused).expect("rejoins");
        assert_eq!(recovery.step(), Step::Rejoin);
        assert_eq!(recovery.wake_at(), Some(later));
    }

    #[test]
    fn a_refused_token_or_a_closed_room_ends_the_room() {
        let now = Instant::now();
        let mut recovery = Recovery::new(now, Step::Resume);
        let expired = AttemptError::Signal(SignalError::Refused {
            status: 401,
            reason: "token is expired".into(),
        });
        assert_eq!(
            recovery.failed(now, &expired),
            Err(DisconnectReason::Refused("401: token is expired".into()))
        );
        let deleted = AttemptError::Signal(SignalError::LeftBeforeJoin {
            reason: proto::DisconnectReason::RoomDeleted,
        });
        assert_eq!(
            recovery.failed(now, &deleted),
            Err(DisconnectReason::Server(
                proto::DisconnectReason::RoomDeleted
            ))
        );
    }

    #[test]
    fn media_that_does_not_follow_a_resume_leads_to_a_rejoin() {
        let start = Instant::now();
        let mut recovery = Recovery::new(start, Step::Resume);
        recovery.signalling_back(start);
        assert!(recovery.awaits_media());
        let dial = Dial {
            server: "ws://127.0.0.1:9".into(),
            token: String::new(),
            query: JoinQuery::default(),
            bind_ip: IpAddr::from([127, 0, 0, 1]),
        };
        let keepalive = Keepalive::from_join(&proto::JoinResponse::default());
        recovery.tick(start + Duration::from_secs(1), &dial, "PA_x", keepalive);
        assert!(recovery.awaits_media(), "still within the limit");
        recovery.tick(start + MEDIA_RECOVERY_LIMIT, &dial, "PA_x", keepalive);
        assert_eq!(recovery.step(), Step::Rejoin);
        assert!(!recovery.awaits_media());
    }
}

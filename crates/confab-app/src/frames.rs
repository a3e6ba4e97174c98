//! The frame channel: decoded video from the app to the webview's tiles on a loopback
//! WebSocket, never through JSON or the UI's state. Each tile opens
//! `/frames/<track>?token=…&width=…&height=…` and receives binary messages — a
//! [`FrameHeader`] and the I420 planes, scaled down to fit the size it shows — newest frame
//! only: while a send is in flight newer frames replace each other, so a slow tile skips
//! frames instead of falling behind.
//!
//! Only this app's webview knows the per-session token; the server listens on 127.0.0.1 only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use confab_conference::code::random_hex;
use confab_ipc::meeting::{FrameChannel, FrameHeader};
use confab_media::i420::{I420Layout, VideoFrame};
use confab_media::pipeline::DecodedVideo;
use confab_media::video::scale::scale;
use confab_media::video::stamp;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::lock;
use crate::media::{FrameFeed, FrameSources};

/// How long a tile may wait for its track's first decoded frame source.
const TRACK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Shared {
    token: String,
    sources: FrameSources,
}

/// The running frame channel; dropping it stops serving.
#[derive(Debug)]
pub struct FrameServer {
    channel: FrameChannel,
    task: JoinHandle<()>,
}

impl FrameServer {
    pub async fn start(sources: FrameSources) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let address = listener.local_addr()?;
        let token = random_hex(16);
        let router = Router::new()
            .route("/frames/{track}", get(frames))
            .with_state(Shared {
                token: token.clone(),
                sources,
            });
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the frame channel stopped");
            }
        });
        Ok(Self {
            channel: FrameChannel {
                base_url: format!("ws://{address}"),
                token,
            },
            task,
        })
    }

    pub fn channel(&self) -> FrameChannel {
        self.channel.clone()
    }
}

impl Drop for FrameServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, serde::Deserialize)]
struct Wanted {
    token: String,
    width: u32,
    height: u32,
}

async fn frames(
    State(shared): State<Shared>,
    Path(track): Path<String>,
    Query(wanted): Query<Wanted>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !same(&wanted.token, &shared.token) {
        return (StatusCode::UNAUTHORIZED, "wrong token").into_response();
    }
    upgrade.on_upgrade(move |socket| send_frames(socket, shared.sources, track, wanted))
}

/// Tokens compared in constant time.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn send_frames(mut socket: WebSocket, sources: FrameSources, track: String, wanted: Wanted) {
    match wait_for_source(&sources, &track).await {
        Some(FrameFeed::Decoded(frames)) => {
            feed(&mut socket, frames, &wanted, |decoded: &DecodedVideo| {
                (
                    decoded.frame.clone(),
                    decoded.stamp.map(|stamp| stamp.counter),
                )
            })
            .await;
        }
        Some(FrameFeed::Local(frames)) => {
            // Our own camera's frames carry a stamp only when it is the test pattern.
            feed(&mut socket, frames, &wanted, |frame: &Arc<VideoFrame>| {
                (frame.clone(), stamp::read(frame).map(|stamp| stamp.counter))
            })
            .await;
        }
        None => {}
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// Sends the newest frame each time `frames` changes, until the track or the tile goes.
async fn feed<T: Clone>(
    socket: &mut WebSocket,
    mut frames: watch::Receiver<Option<T>>,
    wanted: &Wanted,
    picture: impl Fn(&T) -> (Arc<VideoFrame>, Option<u32>),
) {
    loop {
        let newest = frames.borrow_and_update().clone();
        if let Some(newest) = newest {
            let (frame, counter) = picture(&newest);
            let message = encode(&frame, counter, wanted.width, wanted.height);
            if socket.send(Message::Binary(message.into())).await.is_err() {
                return;
            }
        }
        if frames.changed().await.is_err() {
            return;
        }
    }
}

async fn wait_for_source(sources: &FrameSources, track: &str) -> Option<FrameFeed> {
    let deadline = tokio::time::Instant::now() + TRACK_WAIT;
    loop {
        if let Some(frames) = lock(sources).get(track).cloned() {
            return Some(frames);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        // A tile may ask for a track a moment before its subscription starts.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A frame as the channel carries it, scaled down (never up) to fit `width` × `height`.
pub fn encode(frame: &VideoFrame, counter: Option<u32>, width: u32, height: u32) -> Vec<u8> {
    let frame = fit(frame, width, height);
    let header = FrameHeader {
        width: frame.width(),
        height: frame.height(),
        counter,
    };
    let mut message = Vec::with_capacity(FrameHeader::LEN + frame.data().len());
    message.extend_from_slice(&header.encode());
    message.extend_from_slice(frame.data());
    message
}

fn fit(frame: &VideoFrame, width: u32, height: u32) -> std::borrow::Cow<'_, VideoFrame> {
    let (source_width, source_height) = (frame.width(), frame.height());
    if width == 0 || height == 0 || (source_width <= width && source_height <= height) {
        return std::borrow::Cow::Borrowed(frame);
    }
    let ratio = f64::min(
        f64::from(width) / f64::from(source_width),
        f64::from(height) / f64::from(source_height),
    );
    let even = |value: f64| ((value as u32) & !1).max(2);
    let target = I420Layout::new(
        even(f64::from(source_width) * ratio),
        even(f64::from(source_height) * ratio),
    );
    match target {
        Ok(target) => std::borrow::Cow::Owned(scale(frame, target)),
        Err(_) => std::borrow::Cow::Borrowed(frame),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: u32, height: u32) -> VideoFrame {
        VideoFrame::black(I420Layout::new(width, height).expect("layout"))
    }

    #[test]
    fn frames_are_scaled_down_to_fit_keeping_their_shape_and_never_up() {
        let big = frame(1280, 720);
        let fitted = fit(&big, 640, 640);
        assert_eq!((fitted.width(), fitted.height()), (640, 360));
        let small = frame(320, 180);
        let same = fit(&small, 1920, 1080);
        assert_eq!((same.width(), same.height()), (320, 180));
    }

    #[test]
    fn tokens_must_match_exactly() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}

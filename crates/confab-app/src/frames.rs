//! The frame channel: decoded video from the app to the webview's tiles on a loopback
//! WebSocket, never through JSON or the UI's state. Each tile opens
//! `/frames/<track>?token=…&width=…&height=…` and receives binary messages — a
//! [`FrameHeader`] and the I420 planes, scaled down to fit the size it shows — newest frame
//! only: while a send is in flight newer frames replace each other, so a slow tile skips
//! frames instead of falling behind.
//!
//! A tile says `WxH` (text) when it is resized. The server is asked, per remote track, for
//! the largest size its open tiles show (so it sends the simulcast layer that fits), and to
//! pause a track no tile shows.
//!
//! Only this app's webview knows the per-session token; the server listens on 127.0.0.1 only.

use std::collections::HashMap;
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
use confab_rtc::room::{SubscriptionSettings, TrackControl};
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
    viewers: Arc<std::sync::Mutex<Viewers>>,
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
                viewers: Arc::default(),
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
    upgrade.on_upgrade(move |socket| send_frames(socket, shared, track, wanted))
}

/// Tokens compared in constant time.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn send_frames(mut socket: WebSocket, shared: Shared, track: String, wanted: Wanted) {
    let size = Size::new(wanted.width, wanted.height);
    match wait_for_source(&shared.sources, &track).await {
        Some(FrameFeed::Decoded(frames, control)) => {
            let id = lock(&shared.viewers).add(&track, size);
            let subscription = Subscription {
                control,
                viewers: &shared.viewers,
                track: &track,
                id,
            };
            subscription.ask().await;
            let picture = |decoded: &DecodedVideo| {
                let counter = decoded.stamp.map(|stamp| stamp.counter);
                (decoded.frame.clone(), counter)
            };
            feed(&mut socket, frames, size, Some(&subscription), picture).await;
            lock(&shared.viewers).remove(&track, id);
            subscription.ask().await;
        }
        Some(FrameFeed::Local(frames)) => {
            // Our own camera's frames carry a stamp only when it is the test pattern.
            let picture = |frame: &Arc<VideoFrame>| {
                (frame.clone(), stamp::read(frame).map(|stamp| stamp.counter))
            };
            feed(&mut socket, frames, size, None, picture).await;
        }
        None => {}
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// A tile's size in device pixels; zero means "as sent".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Size {
    width: u32,
    height: u32,
}

impl Size {
    /// The largest size a tile may ask for (a 4K screen).
    const MAX: u32 = 4096;

    fn new(width: u32, height: u32) -> Self {
        Self {
            width: width.min(Self::MAX),
            height: height.min(Self::MAX),
        }
    }

    /// A tile's `WxH` message, sent when it is resized.
    fn parse(text: &str) -> Option<Self> {
        let (width, height) = text.trim().split_once('x')?;
        Some(Self::new(width.parse().ok()?, height.parse().ok()?))
    }
}

/// The sizes open tiles show each remote track at, so the server is asked for the layer
/// the largest of them needs, and to pause a track no tile shows.
#[derive(Debug, Default)]
struct Viewers {
    next_id: u64,
    sizes: HashMap<String, HashMap<u64, Size>>,
}

impl Viewers {
    fn add(&mut self, track: &str, size: Size) -> u64 {
        self.next_id += 1;
        self.sizes
            .entry(track.to_owned())
            .or_default()
            .insert(self.next_id, size);
        self.next_id
    }

    fn resize(&mut self, track: &str, id: u64, size: Size) {
        if let Some(tile) = self
            .sizes
            .get_mut(track)
            .and_then(|tiles| tiles.get_mut(&id))
        {
            *tile = size;
        }
    }

    fn remove(&mut self, track: &str, id: u64) {
        if let Some(tiles) = self.sizes.get_mut(track) {
            tiles.remove(&id);
            if tiles.is_empty() {
                self.sizes.remove(track);
            }
        }
    }

    /// What to ask the server for `track`: the largest size a tile shows it at, paused when
    /// none does.
    fn wanted(&self, track: &str) -> SubscriptionSettings {
        let Some(tiles) = self.sizes.get(track) else {
            return SubscriptionSettings::Paused;
        };
        let width = tiles.values().map(|s| s.width).max().unwrap_or(0);
        let height = tiles.values().map(|s| s.height).max().unwrap_or(0);
        SubscriptionSettings::Size { width, height }
    }
}

/// One tile's share in what a remote track is asked for.
struct Subscription<'a> {
    control: TrackControl,
    viewers: &'a std::sync::Mutex<Viewers>,
    track: &'a str,
    id: u64,
}

impl Subscription<'_> {
    async fn resized(&self, size: Size) {
        lock(self.viewers).resize(self.track, self.id, size);
        self.ask().await;
    }

    /// Tells the server what the track's tiles need now.
    async fn ask(&self) {
        let wanted = lock(self.viewers).wanted(self.track);
        if let Err(error) = self.control.set_settings(wanted).await {
            tracing::debug!(track = self.track, %error, "track settings not sent");
        }
    }
}

/// Sends the newest frame each time `frames` changes, scaled to the tile's size, until the
/// track or the tile goes; a tile's `WxH` message resizes it.
async fn feed<T: Clone>(
    socket: &mut WebSocket,
    mut frames: watch::Receiver<Option<T>>,
    mut size: Size,
    subscription: Option<&Subscription<'_>>,
    picture: impl Fn(&T) -> (Arc<VideoFrame>, Option<u32>),
) {
    loop {
        let newest = frames.borrow_and_update().clone();
        if let Some(newest) = newest {
            let (frame, counter) = picture(&newest);
            let message = encode(&frame, counter, size.width, size.height);
            if socket.send(Message::Binary(message.into())).await.is_err() {
                return;
            }
        }
        // Until the next frame, read what the tile says (`socket.recv` is cancel-safe).
        loop {
            tokio::select! {
                changed = frames.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                message = socket.recv() => match message {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(resized) = Size::parse(&text).filter(|s| *s != size) {
                            size = resized;
                            if let Some(subscription) = subscription {
                                subscription.resized(size).await;
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => return,
                },
            }
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
    let (source_width, source_height) = (frame.width(), frame.height());
    let frame = fit(frame, width, height);
    let header = FrameHeader {
        width: frame.width(),
        height: frame.height(),
        source_width,
        source_height,
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
    fn the_largest_open_tile_sets_the_size_and_no_tile_pauses() {
        let mut viewers = Viewers::default();
        assert_eq!(viewers.wanted("TR_a"), SubscriptionSettings::Paused);
        let small = viewers.add("TR_a", Size::new(320, 180));
        let large = viewers.add("TR_a", Size::new(1280, 720));
        viewers.add("TR_b", Size::new(200, 120));
        let size = |width, height| SubscriptionSettings::Size { width, height };
        assert_eq!(viewers.wanted("TR_a"), size(1280, 720));
        viewers.remove("TR_a", large);
        assert_eq!(viewers.wanted("TR_a"), size(320, 180));
        viewers.resize("TR_a", small, Size::new(960, 540));
        assert_eq!(viewers.wanted("TR_a"), size(960, 540));
        viewers.remove("TR_a", small);
        assert_eq!(viewers.wanted("TR_a"), SubscriptionSettings::Paused);
        assert_eq!(viewers.wanted("TR_b"), size(200, 120));
    }

    #[test]
    fn a_tiles_resize_message_is_read_and_bounded() {
        assert_eq!(Size::parse("640x360"), Some(Size::new(640, 360)));
        assert_eq!(Size::parse(" 99999x10 "), Some(Size::new(4096, 10)));
        assert_eq!(Size::parse("640*360"), None);
        assert_eq!(Size::parse("-1x5"), None);
    }

    #[test]
    fn tokens_must_match_exactly() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}

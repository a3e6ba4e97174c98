//! What the screen-sharing tests of every backend do alike: one client shares a screen
//! through a room, another decodes it.

use confab_media::pipeline::{self, MediaTask, VideoReceiver};
use confab_media::video::source::VideoSource;
use confab_rtc::room::{Room, RoomEvent, TrackOptions, TrackSource, VideoCodec};
use tokio::sync::mpsc;

use crate::common::scenarios::subscribed_track;

/// `sharer` publishes `share` as a VP8 screen share at its own size; returns the sender and
/// the decoder of the watcher whose events are `watcher_events` (who must see it as a screen
/// share from `sharer_identity`).
pub async fn share_and_watch(
    sharer: &Room,
    sharer_identity: &str,
    share: Box<dyn VideoSource>,
    watcher_events: &mut mpsc::Receiver<RoomEvent>,
) -> (MediaTask, VideoReceiver) {
    let layout = share.layout();
    let options = TrackOptions::screen_share(VideoCodec::Vp8, layout.width, layout.height);
    let track = sharer
        .publish_track(options.clone())
        .await
        .expect("publish");
    let sender = pipeline::send_video(track, &options, share).expect("sender");
    let what = format!("{sharer_identity}'s screen");
    let (info, track) = subscribed_track(watcher_events, sharer_identity, &what).await;
    assert_eq!(info.source, TrackSource::ScreenShare);
    (sender, pipeline::receive_video(track).expect("decoder"))
}

//! `confab join`: one participant in a room on any LiveKit-compatible server, driven from the
//! command line. It prints what happens as one line per event (stable words first, so scripts
//! can match them), optionally publishes synthetic media, sends chat and files, and saves the
//! files it receives.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use confab_rtc::room::files::{FileError, save_byte_stream};
use confab_rtc::room::{
    ByteStreamReader, ConnectionState, DisconnectReason, Layer, Room, RoomError, RoomEvent,
    RoomOptions, StreamOptions, TrackKind, TrackOptions, VideoCodec,
};
use confab_rtc::synthetic;
use confab_rtc::transport::Role;
use livekit_api::access_token::{AccessToken, VideoGrants};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::cli::JoinArgs;
use crate::local_audio::{self, LocalAudio, LocalAudioError};
use crate::media::{self, MediaError};

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("give --token, or --api-key, --api-secret, --room and --identity")]
    NoToken,
    #[error("--rpc-call wants IDENTITY:METHOD:PAYLOAD, not {0:?}")]
    RpcCall(String),
    #[error("cannot make a token: {0}")]
    TokenSigning(String),
    #[error("cannot read {path}: {source}")]
    SendFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot save into {path}: {source}")]
    SaveDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Room(#[from] RoomError),
    #[error("a received file failed: {0}")]
    ReceivedFile(FileError),
    #[error("the meeting ended for us: {0:?}")]
    Ended(DisconnectReason),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("media: {0}")]
    Media(#[from] MediaError),
    #[error("{0}")]
    LocalAudio(#[from] LocalAudioError),
}

pub fn run(args: &JoinArgs) -> Result<(), JoinError> {
    let token = token(args)?;
    for call in &args.rpc_call {
        rpc_call(call)?;
    }
    for path in &args.send_file {
        std::fs::metadata(path).map_err(|source| JoinError::SendFile {
            path: path.clone(),
            source,
        })?;
    }
    if let Some(dir) = &args.save_dir {
        std::fs::create_dir_all(dir).map_err(|source| JoinError::SaveDir {
            path: dir.clone(),
            source,
        })?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(JoinError::Runtime)?;
    runtime.block_on(participate(args, &token))
}

fn token(args: &JoinArgs) -> Result<String, JoinError> {
    if let Some(token) = &args.token {
        return Ok(token.clone());
    }
    let (Some(key), Some(secret), Some(room), Some(identity)) =
        (&args.api_key, &args.api_secret, &args.room, &args.identity)
    else {
        return Err(JoinError::NoToken);
    };
    AccessToken::with_api_key(key, secret)
        .with_identity(identity)
        .with_name(args.name.as_deref().unwrap_or(identity))
        .with_grants(VideoGrants {
            room_join: true,
            room: room.clone(),
            ..Default::default()
        })
        .to_jwt()
        .map_err(|error| JoinError::TokenSigning(error.to_string()))
}

async fn participate(args: &JoinArgs, token: &str) -> Result<(), JoinError> {
    let connect_started = tokio::time::Instant::now();
    let options = RoomOptions {
        single_peer_connection: !args.two_peer_connections,
        auto_subscribe: !args.no_subscribe,
        ..RoomOptions::default()
    };
    let (room, mut events) = Room::connect(&args.url, token, options).await?;
    let me = room.local_participant().identity.clone();
    println!(
        "joined room={} identity={me} peer-connections={}",
        room.name(),
        if room.single_peer_connection() { 1 } else { 2 }
    );
    if args.rpc_echo {
        room.register_rpc_method("echo", |call| async move {
            println!(
                "rpc-called from={} method=echo payload={}",
                call.caller_identity, call.payload
            );
            Ok(call.payload)
        })
        .await?;
    }

    let mut media = Vec::new();
    if args.synthetic_media {
        let camera = room
            .publish_track(TrackOptions::camera(VideoCodec::Vp8))
            .await?;
        let microphone = room.publish_track(TrackOptions::microphone()).await?;
        println!(
            "published camera={} microphone={}",
            camera.sid(),
            microphone.sid()
        );
        media.push(synthetic::stream_video(
            camera,
            Layer::ALL.into_iter().map(Some).collect(),
        ));
        media.push(synthetic::stream_audio(microphone));
    }
    let mut encoders = if args.test_media {
        media::publish_test_media(&room, args.tone_hz, args.video_codec.into()).await?
    } else {
        Vec::new()
    };
    for load in &args.load_video {
        encoders.push(media::publish_load_video(&room, *load, args.video_codec.into()).await?);
    }
    if let Some(id) = &args.share_screen {
        encoders.push(media::share_screen(&room, id, args.video_codec.into()).await?);
    }
    let mut local_audio = None;
    if args.microphone.is_some() || args.speaker.is_some() {
        let mut audio = LocalAudio::new()?;
        if let Some(id) = &args.speaker {
            audio.start_speaker(local_audio::choice(id))?;
        }
        if let Some(id) = &args.microphone {
            encoders.push(
                audio
                    .publish_microphone(&room, local_audio::choice(id))
                    .await?,
            );
        }
        local_audio = Some(audio);
    }
    let mut feeders = Vec::new();
    // (identity, track sid) of the audio tracks played on the speaker.
    let mut played = Vec::new();

    let mut waiting_for: HashSet<String> = args.wait_for.iter().cloned().collect();
    let mut sent_outbox = false;
    let (saved_sender, mut saved) = mpsc::channel::<Result<String, FileError>>(16);
    let mut files_received = 0usize;
    let mut frames = JoinSet::new();
    let deadline = args
        .duration
        .map(|seconds| tokio::time::Instant::now() + Duration::from_secs_f64(seconds));
    // Its own future beside the event loop: a tick waits while the connection recovers, and
    // events must still be read meanwhile.
    let mut ticking = Box::pin(send_ticks(&room, args.chat_every));

    let outcome = loop {
        if !sent_outbox && waiting_for.is_empty() {
            sent_outbox = true;
            if let Err(error) = send_outbox(&room, args).await {
                break Err(error);
            }
        }
        if args
            .exit_after_files
            .is_some_and(|wanted| files_received >= wanted)
        {
            break Ok(());
        }
        let until_deadline = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break Ok(()) };
                match event {
                    RoomEvent::Disconnected(reason) => break Err(JoinError::Ended(reason)),
                    RoomEvent::ParticipantJoined(participant) => {
                        waiting_for.remove(&participant.identity);
                        println!("participant-joined {}", participant.identity);
                    }
                    RoomEvent::ByteStream(reader) => {
                        receive_file(reader, args.save_dir.clone(), saved_sender.clone());
                    }
                    RoomEvent::TrackSubscribed { identity, info, track } => {
                        println!("track-subscribed {identity} {:?} {:?} {}", info.kind, info.source, info.sid);
                        match info.kind {
                            TrackKind::Video => {
                                frames.spawn(media::summarise_video(track, identity, connect_started))
                            }
                            TrackKind::Audio => match local_audio.as_ref().and_then(LocalAudio::playout) {
                                Some(playout) => match playout.add_track(track) {
                                    Ok(feeder) => {
                                        feeders.push(feeder);
                                        played.push((identity, info.sid));
                                        continue;
                                    }
                                    Err(error) => break Err(LocalAudioError::from(error).into()),
                                },
                                None => frames.spawn(media::summarise_audio(track, identity)),
                            },
                        };
                    }
                    other => print_event(&other),
                }
            }
            Some(result) = saved.recv() => match result {
                Ok(line) => {
                    files_received += 1;
                    println!("{line}");
                }
                Err(error) => break Err(JoinError::ReceivedFile(error)),
            },
            error = &mut ticking, if sent_outbox => break Err(error),
            () = until_deadline => break Ok(()),
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    drop(ticking);
    for source in media {
        source.abort();
    }
    // Before the feeders stop: a stopped feeder takes its voice (and its stats) out of the mix.
    if let Some(playout) = local_audio.as_ref().and_then(LocalAudio::playout) {
        for (identity, sid) in &played {
            if let Some(stats) = playout.stats(sid) {
                println!("{}", local_audio::played_summary(identity, sid, &stats));
            }
        }
    }
    for task in encoders.into_iter().chain(feeders) {
        if let Err(error) = task.stop() {
            tracing::warn!(%error, "a media thread failed");
        }
    }
    if let Some(Err(error)) = local_audio.map(LocalAudio::stop) {
        tracing::warn!(%error, "the playout failed");
    }
    if outcome.is_ok() {
        room.leave().await?;
        println!("left");
    }
    while let Some(summary) = frames.join_next().await {
        match summary {
            Ok(Ok(line)) => println!("{line}"),
            Ok(Err(error)) => tracing::warn!(%error, "a received track failed"),
            Err(error) => tracing::warn!(%error, "a received track's task failed"),
        }
    }
    outcome
}

/// Sends `tick 1`, `tick 2`, … every `period` seconds, in order (a tick sent while the
/// connection recovers waits until the room is back). Never ends without a period; otherwise
/// ends only when a message cannot be sent.
async fn send_ticks(room: &Room, period: Option<f64>) -> JoinError {
    let Some(period) = period else {
        return std::future::pending().await;
    };
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(period));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for tick in 1u64.. {
        ticker.tick().await;
        match room.send_chat(&format!("tick {tick}"), &[]).await {
            Ok(sent) => println!("chat-sent {} tick {tick}", sent.id),
            Err(error) => return error.into(),
        }
    }
    std::future::pending().await
}

/// Chat messages, then files, once everyone awaited is present.
async fn send_outbox(room: &Room, args: &JoinArgs) -> Result<(), JoinError> {
    for message in &args.chat {
        let sent = room.send_chat(message, &[]).await?;
        println!("chat-sent {}", sent.id);
    }
    for call in &args.rpc_call {
        let (destination, method, payload) = rpc_call(call)?;
        match room.perform_rpc(destination, method, payload, None).await {
            Ok(answer) => println!("rpc-result dest={destination} method={method} ok {answer}"),
            Err(error) => println!(
                "rpc-result dest={destination} method={method} error={} {}",
                error.code, error.message
            ),
        }
    }
    for path in &args.send_file {
        let options = StreamOptions {
            topic: args.topic.clone(),
            ..Default::default()
        };
        let sent = room.send_file(path, options).await?.finish().await?;
        println!(
            "file-sent {} bytes={} sha256={}",
            path.display(),
            sent.bytes,
            sent.sha256
        );
    }
    Ok(())
}

/// `IDENTITY:METHOD:PAYLOAD` taken apart (the payload may contain `:`).
fn rpc_call(spec: &str) -> Result<(&str, &str, &str), JoinError> {
    let mut parts = spec.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(destination), Some(method), Some(payload))
            if !destination.is_empty() && !method.is_empty() =>
        {
            Ok((destination, method, payload))
        }
        _ => Err(JoinError::RpcCall(spec.to_owned())),
    }
}

/// Saves one incoming file (into the system temp folder without --save-dir) in the background.
fn receive_file(
    reader: ByteStreamReader,
    save_dir: Option<PathBuf>,
    done: mpsc::Sender<Result<String, FileError>>,
) {
    tokio::spawn(async move {
        let from = reader.info.from.clone().unwrap_or_default();
        let dir = save_dir.unwrap_or_else(std::env::temp_dir);
        let (progress, _) = watch::channel(0);
        let started = tokio::time::Instant::now();
        let result = save_byte_stream(reader, &dir, &progress, None)
            .await
            .map(|saved| {
                // From the stream's header to the file saved under its name.
                let ms = started.elapsed().as_secs_f64() * 1e3;
                format!(
                    "file-received from={from} bytes={} sha256={} verified={} ms={ms:.1} path={}",
                    saved.bytes,
                    saved.sha256,
                    saved.verified,
                    saved.path.display()
                )
            });
        let _ = done.send(result).await;
    });
}

fn print_event(event: &RoomEvent) {
    match event {
        RoomEvent::ParticipantLeft { identity } => println!("participant-left {identity}"),
        RoomEvent::TrackMuted {
            identity,
            track_sid,
            muted,
        } => println!("track-muted {identity} {track_sid} {muted}"),
        RoomEvent::TrackUnsubscribed {
            identity,
            track_sid,
        } => println!("track-unsubscribed {identity} {track_sid}"),
        RoomEvent::Chat(chat) => println!(
            "chat from={} private={} {}",
            chat.from.as_deref().unwrap_or("server"),
            chat.private,
            chat.message
        ),
        RoomEvent::Text { info, text } => println!(
            "text from={} topic={} {text}",
            info.from.as_deref().unwrap_or("server"),
            info.topic
        ),
        RoomEvent::Data(data) => println!(
            "data from={} topic={} bytes={}",
            data.from.as_deref().unwrap_or("server"),
            data.topic.as_deref().unwrap_or(""),
            data.payload.len()
        ),
        RoomEvent::PermissionsChanged(permissions) => println!(
            "permissions publish={} subscribe={} data={}",
            permissions.can_publish, permissions.can_subscribe, permissions.can_publish_data
        ),
        RoomEvent::LocalTrackMuted { track_sid, muted } => {
            println!("muted-by-host {track_sid} {muted}")
        }
        RoomEvent::RoomMetadata(metadata) => println!("room-metadata {metadata}"),
        RoomEvent::Connection(state) => println!(
            "connection {}",
            match state {
                ConnectionState::Reconnecting => "reconnecting",
                ConnectionState::Resumed => "resumed",
                ConnectionState::Rejoined => "rejoined",
            }
        ),
        RoomEvent::MediaPath { role, path } => println!(
            "media-path {} {}",
            match role {
                Role::Publisher => "publisher",
                Role::Subscriber => "subscriber",
            },
            path.as_str()
        ),
        _ => {}
    }
}

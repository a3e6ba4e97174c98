//! LiveKit data streams (`DataStream.Header` / `Chunk` / `Trailer` packets): what the JS and
//! Python SDKs use for `sendText`, `sendFile` and chat on the `lk.chat` topic.
//!
//! Outgoing: packet builders. Incoming: [`IncomingStreams`] reassembles text streams and
//! forwards byte streams chunk by chunk to a [`ByteStreamReader`], enforcing order and limits
//! so a hostile sender can only hurt its own stream.

use std::collections::HashMap;

use livekit_protocol as proto;
use proto::data_packet::Value;
use proto::data_stream::header::ContentHeader;
use tokio::sync::mpsc;

use super::events::{ChatMessage, RoomEvent};

/// Bytes of content per chunk, as LiveKit's SDKs send them (fits one SCTP message).
pub const CHUNK_BYTES: usize = 15_000;
/// LiveKit components' chat topic.
pub const CHAT_TOPIC: &str = "lk.chat";
/// The trailer attribute carrying the hex SHA-256 of a byte stream's content (ours; other
/// SDKs ignore it).
pub const SHA256_ATTRIBUTE: &str = "confab.sha256";
/// The largest text stream we reassemble in memory.
const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Open streams one sender may have at a time.
const MAX_OPEN_PER_SENDER: usize = 64;
/// Chunks buffered for a byte stream reader that does not keep up (~60 MB).
const READER_QUEUE_CHUNKS: usize = 4096;

/// What a stream carries and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub id: String,
    pub from: Option<String>,
    pub topic: String,
    pub mime_type: String,
    /// The file name the sender gave (unsanitised: see `files::safe_file_name`).
    pub name: String,
    pub total_length: Option<u64>,
    pub attributes: HashMap<String, String>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// Why a stream did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("the sender ended the stream: {0}")]
    Aborted(String),
    #[error("the sender left before the stream completed")]
    SenderLeft,
    #[error("chunk {got} arrived where chunk {expected} was due")]
    OutOfOrder { expected: u64, got: u64 },
    #[error("the stream is longer than announced ({0} bytes)")]
    TooLong(u64),
    #[error("the stream ended after {got} of {announced} announced bytes")]
    Truncated { got: u64, announced: u64 },
    #[error("the reader fell too far behind")]
    ReaderBehind,
    #[error("compressed or encrypted streams are not supported")]
    Unsupported,
}

/// One piece of a byte stream as its reader sees it.
#[derive(Debug)]
pub enum ByteStreamItem {
    Chunk(Vec<u8>),
    /// The end: complete (with the trailer's attributes) or failed.
    End(Result<HashMap<String, String>, StreamError>),
}

/// A byte stream arriving from another participant.
#[derive(Debug)]
pub struct ByteStreamReader {
    pub info: StreamInfo,
    pub(super) items: mpsc::Receiver<ByteStreamItem>,
}

impl ByteStreamReader {
    /// The next item; `None` only if the room ended mid-stream.
    pub async fn next(&mut self) -> Option<ByteStreamItem> {
        self.items.recv().await
    }
}

pub fn header_packet(
    info: &StreamInfo,
    content: ContentHeader,
    destinations: &[String],
) -> proto::DataPacket {
    stream_packet(
        destinations,
        Value::StreamHeader(proto::data_stream::Header {
            stream_id: info.id.clone(),
            timestamp: info.timestamp,
            topic: info.topic.clone(),
            mime_type: info.mime_type.clone(),
            total_length: info.total_length,
            attributes: info.attributes.clone(),
            content_header: Some(content),
            ..Default::default()
        }),
    )
}

pub fn chunk_packet(
    stream_id: &str,
    index: u64,
    content: Vec<u8>,
    destinations: &[String],
) -> proto::DataPacket {
    stream_packet(
        destinations,
        Value::StreamChunk(proto::data_stream::Chunk {
            stream_id: stream_id.to_owned(),
            chunk_index: index,
            content,
            ..Default::default()
        }),
    )
}

pub fn trailer_packet(
    stream_id: &str,
    reason: &str,
    attributes: HashMap<String, String>,
    destinations: &[String],
) -> proto::DataPacket {
    stream_packet(
        destinations,
        Value::StreamTrailer(proto::data_stream::Trailer {
            stream_id: stream_id.to_owned(),
            reason: reason.to_owned(),
            attributes,
        }),
    )
}

#[allow(deprecated)] // `kind` is still read by 1.x servers.
fn stream_packet(destinations: &[String], value: Value) -> proto::DataPacket {
    proto::DataPacket {
        kind: proto::data_packet::Kind::Reliable as i32,
        destination_identities: destinations.to_vec(),
        value: Some(value),
        ..Default::default()
    }
}

/// `text` cut into chunks of at most [`CHUNK_BYTES`] without splitting a character.
pub fn text_chunks(text: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(CHUNK_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (chunk, tail) = rest.split_at(end);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

#[derive(Debug)]
enum Incoming {
    Text {
        info: StreamInfo,
        text: Vec<u8>,
        next_index: u64,
        private: bool,
    },
    Bytes {
        info: StreamInfo,
        items: Option<mpsc::Sender<ByteStreamItem>>,
        next_index: u64,
        received: u64,
    },
}

/// Streams being received, keyed by sender and stream id.
#[derive(Debug, Default)]
pub struct IncomingStreams {
    open: HashMap<(String, String), Incoming>,
}

impl IncomingStreams {
    /// A header from `from`; a byte stream is announced at once, a text stream when complete.
    // `encryption_type` moved to the packet level upstream; senders of the 1.x line still set
    // it here, and either way we cannot read such a stream.
    #[allow(deprecated)]
    pub fn on_header(
        &mut self,
        from: &str,
        private: bool,
        header: proto::data_stream::Header,
    ) -> Option<RoomEvent> {
        let open_from_sender = self.open.keys().filter(|(who, _)| who == from).count();
        if open_from_sender >= MAX_OPEN_PER_SENDER {
            tracing::debug!(from, "too many open streams; header ignored");
            return None;
        }
        let unsupported = header.encryption_type != 0 || header.compression != 0;
        let name = match &header.content_header {
            Some(ContentHeader::ByteHeader(bytes)) => bytes.name.clone(),
            _ => String::new(),
        };
        let info = StreamInfo {
            id: header.stream_id.clone(),
            from: (!from.is_empty()).then(|| from.to_owned()),
            topic: header.topic.clone(),
            mime_type: header.mime_type.clone(),
            name,
            total_length: header.total_length,
            attributes: header.attributes.clone(),
            timestamp: header.timestamp,
        };
        let (incoming, event) = match header.content_header {
            Some(ContentHeader::ByteHeader(_)) => {
                let (sender, items) = mpsc::channel(READER_QUEUE_CHUNKS);
                let mut incoming = Incoming::Bytes {
                    info: info.clone(),
                    items: Some(sender),
                    next_index: 0,
                    received: 0,
                };
                if unsupported {
                    fail(&mut incoming, StreamError::Unsupported);
                }
                (
                    incoming,
                    Some(RoomEvent::ByteStream(ByteStreamReader { info, items })),
                )
            }
            Some(ContentHeader::TextHeader(_)) | None => {
                if unsupported {
                    tracing::debug!(stream = %info.id, "compressed or encrypted text stream ignored");
                    return None;
                }
                let incoming = Incoming::Text {
                    info,
                    text: Vec::new(),
                    next_index: 0,
                    private,
                };
                (incoming, None)
            }
        };
        let key = (from.to_owned(), header.stream_id);
        self.open.insert(key.clone(), incoming);
        if let Some(inline) = header.inline_content.filter(|c| !c.is_empty()) {
            self.append(&key, None, inline);
        }
        event
    }

    pub fn on_chunk(&mut self, from: &str, chunk: proto::data_stream::Chunk) {
        let key = (from.to_owned(), chunk.stream_id);
        self.append(&key, Some(chunk.chunk_index), chunk.content);
    }

    fn append(&mut self, key: &(String, String), index: Option<u64>, content: Vec<u8>) {
        let Some(incoming) = self.open.get_mut(key) else {
            return;
        };
        match incoming {
            Incoming::Text {
                text, next_index, ..
            } => {
                if index.is_some_and(|i| i != *next_index)
                    || text.len() + content.len() > MAX_TEXT_BYTES
                {
                    tracing::debug!(stream = %key.1, "text stream out of order or too long; dropped");
                    self.open.remove(key);
                    return;
                }
                *next_index += 1;
                text.extend_from_slice(&content);
            }
            Incoming::Bytes {
                info,
                items,
                next_index,
                received,
            } => {
                if items.is_none() {
                    return;
                }
                if let Some(got) = index.filter(|i| i != next_index) {
                    let expected = *next_index;
                    fail(incoming, StreamError::OutOfOrder { expected, got });
                    return;
                }
                *next_index += 1;
                *received += content.len() as u64;
                if info.total_length.is_some_and(|total| *received > total) {
                    let received = *received;
                    fail(incoming, StreamError::TooLong(received));
                    return;
                }
                let full = items
                    .as_ref()
                    .is_some_and(|items| items.try_send(ByteStreamItem::Chunk(content)).is_err());
                if full {
                    fail(incoming, StreamError::ReaderBehind);
                }
            }
        }
    }

    /// The end of a stream: a complete text stream becomes its event.
    pub fn on_trailer(
        &mut self,
        from: &str,
        trailer: proto::data_stream::Trailer,
    ) -> Option<RoomEvent> {
        let key = (from.to_owned(), trailer.stream_id);
        match self.open.remove(&key)? {
            Incoming::Text {
                info,
                text,
                private,
                ..
            } => {
                if !trailer.reason.is_empty() {
                    tracing::debug!(stream = %info.id, reason = %trailer.reason, "text stream aborted");
                    return None;
                }
                let text = String::from_utf8_lossy(&text).into_owned();
                Some(text_event(info, text, private))
            }
            Incoming::Bytes {
                info,
                items,
                received,
                ..
            } => {
                let result = if !trailer.reason.is_empty() {
                    Err(StreamError::Aborted(trailer.reason))
                } else if let Some(announced) = info.total_length.filter(|total| *total != received)
                {
                    Err(StreamError::Truncated {
                        got: received,
                        announced,
                    })
                } else {
                    Ok(trailer.attributes)
                };
                if let Some(items) = items {
                    let _ = items.try_send(ByteStreamItem::End(result));
                }
                None
            }
        }
    }

    /// `from` left: its unfinished streams fail.
    pub fn sender_left(&mut self, from: &str) {
        let keys: Vec<_> = self
            .open
            .keys()
            .filter(|(who, _)| who == from)
            .cloned()
            .collect();
        for key in keys {
            if let Some(mut incoming) = self.open.remove(&key) {
                fail(&mut incoming, StreamError::SenderLeft);
            }
        }
    }
}

/// Ends a byte stream with `error` (the reader sees it; later chunks are ignored).
fn fail(incoming: &mut Incoming, error: StreamError) {
    if let Incoming::Bytes { info, items, .. } = incoming {
        tracing::debug!(stream = %info.id, %error, "byte stream failed");
        if let Some(items) = items.take() {
            let _ = items.try_send(ByteStreamItem::End(Err(error)));
        }
    }
}

fn text_event(info: StreamInfo, text: String, private: bool) -> RoomEvent {
    if info.topic == CHAT_TOPIC {
        RoomEvent::Chat(ChatMessage {
            id: info.id,
            from: info.from,
            message: text,
            timestamp: info.timestamp,
            private,
        })
    } else {
        RoomEvent::Text { info, text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(id: &str, bytes: bool, total: Option<u64>) -> proto::data_stream::Header {
        proto::data_stream::Header {
            stream_id: id.into(),
            topic: if bytes { "files" } else { CHAT_TOPIC }.into(),
            total_length: total,
            content_header: Some(if bytes {
                ContentHeader::ByteHeader(proto::data_stream::ByteHeader {
                    name: "notes.txt".into(),
                })
            } else {
                ContentHeader::TextHeader(proto::data_stream::TextHeader::default())
            }),
            ..Default::default()
        }
    }

    fn chunk(id: &str, index: u64, content: &[u8]) -> proto::data_stream::Chunk {
        proto::data_stream::Chunk {
            stream_id: id.into(),
            chunk_index: index,
            content: content.to_vec(),
            ..Default::default()
        }
    }

    fn trailer(id: &str, reason: &str) -> proto::data_stream::Trailer {
        proto::data_stream::Trailer {
            stream_id: id.into(),
            reason: reason.into(),
            attributes: HashMap::new(),
        }
    }

    fn reader(event: Option<RoomEvent>) -> ByteStreamReader {
        match event {
            Some(RoomEvent::ByteStream(reader)) => reader,
            other => panic!("not a byte stream: {other:?}"),
        }
    }

    fn drain(reader: &mut ByteStreamReader) -> Vec<ByteStreamItem> {
        let mut items = Vec::new();
        while let Ok(item) = reader.items.try_recv() {
            items.push(item);
        }
        items
    }

    #[test]
    fn chat_text_streams_become_chat_messages() {
        let mut streams = IncomingStreams::default();
        assert!(
            streams
                .on_header("alice", false, header("m1", false, None))
                .is_none()
        );
        streams.on_chunk("alice", chunk("m1", 0, "héllo ".as_bytes()));
        streams.on_chunk("alice", chunk("m1", 1, b"world"));
        let Some(RoomEvent::Chat(chat)) = streams.on_trailer("alice", trailer("m1", "")) else {
            panic!("no chat");
        };
        assert_eq!(chat.message, "héllo world");
        assert_eq!(
            (chat.id.as_str(), chat.from.as_deref()),
            ("m1", Some("alice"))
        );
    }

    #[test]
    fn byte_streams_deliver_chunks_then_the_end() {
        let mut streams = IncomingStreams::default();
        let mut reader = reader(streams.on_header("bob", false, header("f1", true, Some(6))));
        assert_eq!(reader.info.name, "notes.txt");
        streams.on_chunk("bob", chunk("f1", 0, b"abc"));
        streams.on_chunk("bob", chunk("f1", 1, b"def"));
        streams.on_trailer("bob", trailer("f1", ""));
        let items = drain(&mut reader);
        assert!(matches!(&items[..], [
            ByteStreamItem::Chunk(a), ByteStreamItem::Chunk(b), ByteStreamItem::End(Ok(_))
        ] if a == b"abc" && b == b"def"));
    }

    #[test]
    fn out_of_order_long_short_and_orphaned_streams_fail_cleanly() {
        let mut streams = IncomingStreams::default();
        let mut skipped = reader(streams.on_header("eve", false, header("a", true, None)));
        streams.on_chunk("eve", chunk("a", 1, b"x"));
        let mut long = reader(streams.on_header("eve", false, header("b", true, Some(2))));
        streams.on_chunk("eve", chunk("b", 0, b"xyz"));
        let mut short = reader(streams.on_header("eve", false, header("c", true, Some(9))));
        streams.on_chunk("eve", chunk("c", 0, b"xyz"));
        streams.on_trailer("eve", trailer("c", ""));
        let mut orphan = reader(streams.on_header("eve", false, header("d", true, None)));
        // Another sender cannot touch eve's stream with the same id.
        streams.on_chunk("mallory", chunk("d", 0, b"evil"));
        streams.sender_left("eve");
        let ends = |reader: &mut ByteStreamReader| match drain(reader).pop() {
            Some(ByteStreamItem::End(Err(error))) => error,
            other => panic!("expected a failed end, got {other:?}"),
        };
        assert_eq!(
            ends(&mut skipped),
            StreamError::OutOfOrder {
                expected: 0,
                got: 1
            }
        );
        assert_eq!(ends(&mut long), StreamError::TooLong(3));
        assert_eq!(
            ends(&mut short),
            StreamError::Truncated {
                got: 3,
                announced: 9
            }
        );
        assert_eq!(ends(&mut orphan), StreamError::SenderLeft);
    }

    #[test]
    fn text_is_chunked_on_character_boundaries() {
        let text = "é".repeat(CHUNK_BYTES);
        let chunks = text_chunks(&text);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_BYTES));
        assert_eq!(chunks.concat(), text);
        assert!(text_chunks("").is_empty());
    }
}

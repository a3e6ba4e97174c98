//! Files over byte streams: sending one from disk with progress and cancellation, and saving a
//! received one so that nothing half-written ever carries its final name.
//!
//! A received file is written to a hidden `.part` file in the target folder, checked against
//! the sender's SHA-256 (when it sent one), and only then linked under a sanitised name that
//! does not exist yet — an existing file is never overwritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use super::data::unix_millis;
use super::engine::{Command, Written, queue_packet, send_packet, written};
use super::streams::{
    self, ByteStreamItem, ByteStreamReader, CHUNK_BYTES, SHA256_ATTRIBUTE, StreamError, StreamInfo,
};
use super::{RoomError, new_id};
use livekit_protocol as proto;
use proto::data_stream::header::ContentHeader;

/// Chunks handed to the engine but not yet written to the data channel: enough to keep the
/// channel busy, few enough that progress means something.
const CHUNKS_IN_FLIGHT: usize = 16;
/// The longest file name we keep (bytes), well under every file system's limit.
const MAX_NAME_BYTES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("the file's SHA-256 does not match what the sender announced")]
    HashMismatch,
    #[error("the room ended during the transfer")]
    RoomClosed,
    #[error("the file is larger than the {limit} bytes accepted")]
    TooLarge { limit: u64 },
}

/// Where a byte stream goes and what it says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOptions {
    pub topic: String,
    /// The file name receivers see; the file's own name when None.
    pub name: Option<String>,
    /// Identities to send to; empty means everyone.
    pub destinations: Vec<String>,
    pub attributes: HashMap<String, String>,
}

/// A file on its way out. Watch [`FileSend::progress`], [`FileSend::cancel`] it, or wait for it
/// with [`FileSend::finish`].
#[derive(Debug)]
pub struct FileSend {
    pub stream_id: String,
    pub total_bytes: u64,
    progress: watch::Receiver<u64>,
    cancel: Arc<watch::Sender<bool>>,
    done: oneshot::Receiver<Result<SentFile, RoomError>>,
}

/// Cancels a [`FileSend`] (see [`FileSend::canceller`]).
#[derive(Debug, Clone)]
pub struct FileCanceller(Arc<watch::Sender<bool>>);

impl FileCanceller {
    pub fn cancel(&self) {
        let _ = self.0.send(true);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    pub stream_id: String,
    pub bytes: u64,
    /// Hex SHA-256 of what was sent.
    pub sha256: String,
}

impl FileSend {
    /// Bytes handed to the network so far.
    pub fn progress(&self) -> watch::Receiver<u64> {
        self.progress.clone()
    }

    /// Stops the transfer; receivers see the stream end with reason "cancelled".
    pub fn cancel(&self) {
        let _ = self.cancel.send(true);
    }

    /// A handle that cancels this transfer from elsewhere (while another task waits for it).
    pub fn canceller(&self) -> FileCanceller {
        FileCanceller(self.cancel.clone())
    }

    pub async fn finish(self) -> Result<SentFile, RoomError> {
        self.done.await.map_err(|_| RoomError::Closed)?
    }
}

/// Starts sending `path` as a byte stream.
pub async fn send_file(
    commands: mpsc::Sender<Command>,
    path: &Path,
    options: StreamOptions,
) -> Result<FileSend, RoomError> {
    let file = tokio::fs::File::open(path).await?;
    let total_bytes = file.metadata().await?.len();
    let name = options.name.clone().unwrap_or_else(|| {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into())
    });
    let info = StreamInfo {
        id: new_id(),
        from: None,
        topic: options.topic.clone(),
        mime_type: "application/octet-stream".into(),
        name,
        total_length: Some(total_bytes),
        attributes: options.attributes.clone(),
        timestamp: unix_millis(),
    };
    let (progress_sender, progress) = watch::channel(0);
    let (cancel, cancelled) = watch::channel(false);
    let (finished, done) = oneshot::channel();
    let stream_id = info.id.clone();
    let destinations = options.destinations;
    tokio::spawn(async move {
        let result = stream_file(
            &commands,
            file,
            &info,
            &destinations,
            &progress_sender,
            cancelled,
        )
        .await;
        let _ = finished.send(result);
    });
    Ok(FileSend {
        stream_id,
        total_bytes,
        progress,
        cancel: Arc::new(cancel),
        done,
    })
}

async fn stream_file(
    commands: &mpsc::Sender<Command>,
    mut file: tokio::fs::File,
    info: &StreamInfo,
    destinations: &[String],
    progress: &watch::Sender<u64>,
    cancelled: watch::Receiver<bool>,
) -> Result<SentFile, RoomError> {
    let header = ContentHeader::ByteHeader(proto::data_stream::ByteHeader {
        name: info.name.clone(),
    });
    send_packet(
        commands,
        streams::header_packet(info, header, destinations),
        true,
    )
    .await?;
    let mut hasher = Sha256::new();
    let mut in_flight = std::collections::VecDeque::new();
    let mut sent = 0u64;
    let mut index = 0u64;
    let mut buffer = vec![0u8; CHUNK_BYTES];
    loop {
        if *cancelled.borrow() {
            let trailer =
                streams::trailer_packet(&info.id, "cancelled", HashMap::new(), destinations);
            let _ = queue_packet(commands, trailer, true).await;
            return Err(RoomError::Cancelled);
        }
        let length = read_full(&mut file, &mut buffer).await?;
        if length == 0 {
            break;
        }
        let content = buffer[..length].to_vec();
        hasher.update(&content);
        let packet = streams::chunk_packet(&info.id, index, content, destinations);
        in_flight.push_back((queue_packet(commands, packet, true).await?, length as u64));
        index += 1;
        while in_flight.len() >= CHUNKS_IN_FLIGHT {
            sent += wait_written(&mut in_flight).await?;
            progress.send_replace(sent);
        }
    }
    while !in_flight.is_empty() {
        sent += wait_written(&mut in_flight).await?;
        progress.send_replace(sent);
    }
    let sha256 = hex(&hasher.finalize());
    let attributes = HashMap::from([(SHA256_ATTRIBUTE.to_owned(), sha256.clone())]);
    let trailer = streams::trailer_packet(&info.id, "", attributes, destinations);
    send_packet(commands, trailer, true).await?;
    Ok(SentFile {
        stream_id: info.id.clone(),
        bytes: sent,
        sha256,
    })
}

async fn wait_written(
    in_flight: &mut std::collections::VecDeque<(Written, u64)>,
) -> Result<u64, RoomError> {
    let Some((done, bytes)) = in_flight.pop_front() else {
        return Ok(0);
    };
    written(done).await?;
    Ok(bytes)
}

/// Fills `buffer` unless the file ends first; returns the bytes read.
async fn read_full(file: &mut tokio::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = file.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

/// A received file, saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFile {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    /// Whether the sender announced a SHA-256 and it matched.
    pub verified: bool,
}

/// Writes `reader`'s bytes into `dir` (see the module docs); `progress` follows the bytes
/// written. A file announced or found larger than `limit` bytes is refused (and its partial
/// file removed) as soon as that is known.
pub async fn save_byte_stream(
    mut reader: ByteStreamReader,
    dir: &Path,
    progress: &watch::Sender<u64>,
    limit: Option<u64>,
) -> Result<SavedFile, FileError> {
    let limit = limit.unwrap_or(u64::MAX);
    if reader
        .info
        .total_length
        .is_some_and(|length| length > limit)
    {
        return Err(FileError::TooLarge { limit });
    }
    let name = safe_file_name(&reader.info.name);
    let partial = dir.join(format!(".{name}.{}.part", new_id()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .await?;
    let result = async {
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        loop {
            match reader.next().await {
                None => return Err(FileError::RoomClosed),
                Some(ByteStreamItem::Chunk(chunk)) => {
                    if bytes + chunk.len() as u64 > limit {
                        return Err(FileError::TooLarge { limit });
                    }
                    hasher.update(&chunk);
                    file.write_all(&chunk).await?;
                    bytes += chunk.len() as u64;
                    progress.send_replace(bytes);
                }
                Some(ByteStreamItem::End(end)) => {
                    let attributes = end?;
                    file.sync_all().await?;
                    let sha256 = hex(&hasher.finalize());
                    let announced = attributes.get(SHA256_ATTRIBUTE);
                    if announced.is_some_and(|h| !h.eq_ignore_ascii_case(&sha256)) {
                        return Err(FileError::HashMismatch);
                    }
                    return Ok((bytes, sha256, announced.is_some()));
                }
            }
        }
    }
    .await;
    drop(file);
    match result {
        Ok((bytes, sha256, verified)) => {
            let path = link_unique(&partial, dir, &name);
            let _ = tokio::fs::remove_file(&partial).await;
            Ok(SavedFile {
                path: path?,
                bytes,
                sha256,
                verified,
            })
        }
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(error)
        }
    }
}

/// Links `partial` into `dir` as `name`, or `name (1)`, `name (2)`, … — the first that does
/// not exist. A hard link fails instead of replacing, so two savers never clobber each other.
fn link_unique(partial: &Path, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    for attempt in 0u32..10_000 {
        let candidate = if attempt == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({attempt}){extension}"))
        };
        match std::fs::hard_link(partial, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(std::io::Error::other("no free file name"))
}

/// A name from another participant made safe to create in a folder: the last path component
/// only, no control or reserved characters, no leading dots (hidden files, `..`), bounded.
pub fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' ']);
    let mut bounded = String::new();
    for c in trimmed.chars() {
        if bounded.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        bounded.push(c);
    }
    let reserved = {
        let stem = bounded.split('.').next().unwrap_or("").to_ascii_uppercase();
        matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
            || (stem.len() == 4
                && (stem.starts_with("COM") || stem.starts_with("LPT"))
                && stem.ends_with(|c: char| c.is_ascii_digit()))
    };
    if bounded.is_empty() || reserved {
        format!(
            "file{}",
            if bounded.is_empty() {
                String::new()
            } else {
                format!("-{bounded}")
            }
        )
    } else {
        bounded
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_file_names_cannot_escape_or_hide() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(safe_file_name(".bashrc"), "bashrc");
        assert_eq!(safe_file_name(".."), "file");
        assert_eq!(safe_file_name(""), "file");
        assert_eq!(safe_file_name("a\u{0}b\nc?.txt"), "a_b_c_.txt");
        assert_eq!(safe_file_name("CON.txt"), "file-CON.txt");
        assert_eq!(safe_file_name("report.pdf"), "report.pdf");
        assert!(safe_file_name(&"é".repeat(500)).len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("confab-files-{}", new_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("a.txt"), b"old").expect("write");
        let partial = dir.join(".a.part");
        std::fs::write(&partial, b"new").expect("write");
        let first = link_unique(&partial, &dir, "a.txt").expect("link");
        let second = link_unique(&partial, &dir, "a.txt").expect("link");
        assert_eq!(first, dir.join("a (1).txt"));
        assert_eq!(second, dir.join("a (2).txt"));
        assert_eq!(std::fs::read(dir.join("a.txt")).expect("read"), b"old");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    /// A stream from `chunks`, announcing `total_length`, ending complete.
    fn stream(total_length: Option<u64>, chunks: &[&[u8]]) -> ByteStreamReader {
        let (sender, items) = tokio::sync::mpsc::channel(chunks.len() + 1);
        for chunk in chunks {
            sender
                .try_send(ByteStreamItem::Chunk(chunk.to_vec()))
                .expect("room for the chunk");
        }
        sender
            .try_send(ByteStreamItem::End(Ok(HashMap::new())))
            .expect("room for the end");
        ByteStreamReader {
            info: StreamInfo {
                id: new_id(),
                from: Some("bob".into()),
                topic: String::new(),
                mime_type: "application/octet-stream".into(),
                name: "big.bin".into(),
                total_length,
                attributes: HashMap::new(),
                timestamp: 0,
            },
            items,
        }
    }

    fn files_in(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("list")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[tokio::test]
    async fn files_over_the_limit_are_refused_and_leave_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("confab-limit-{}", new_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let progress = watch::Sender::new(0);
        // Announced too large: refused before anything is written.
        let announced = save_byte_stream(stream(Some(11), &[b"x"]), &dir, &progress, Some(10));
        assert!(matches!(
            announced.await,
            Err(FileError::TooLarge { limit: 10 })
        ));
        // Announced nothing (or lied): refused once the bytes pass the limit.
        let lying = stream(None, &[b"123456", b"78901"]);
        let result = save_byte_stream(lying, &dir, &progress, Some(10)).await;
        assert!(matches!(result, Err(FileError::TooLarge { limit: 10 })));
        assert!(
            files_in(&dir).is_empty(),
            "left behind: {:?}",
            files_in(&dir)
        );
        // At the limit: saved.
        let saved = save_byte_stream(
            stream(Some(10), &[b"12345", b"67890"]),
            &dir,
            &progress,
            Some(10),
        )
        .await
        .expect("saved");
        assert_eq!(saved.bytes, 10);
        assert_eq!(files_in(&dir), ["big.bin"]);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}

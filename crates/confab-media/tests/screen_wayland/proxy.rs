//! A Wayland socket in front of the compositor for the portal backend: it forwards every
//! message byte for byte (file descriptors too) and adds one event, a screencopy frame's
//! `linux_dmabuf` offer, where a compositor without a GPU sends none.
//!
//! Why: xdg-desktop-portal-wlr 0.7 (Debian 12) refuses every screen cast unless the
//! compositor offers a DMA-BUF format for screencopy frames, even though it then negotiates
//! shared memory with a consumer that offers no DMA-BUF modifiers, as Confab's does (upstream
//! xdg-desktop-portal-wlr issue #289). A machine without a GPU (wlroots' pixman renderer)
//! never sends the offer. With it added, the portal takes its shared-memory path; the
//! compositor, the portal, PipeWire and the app under test are all the real ones, and a
//! desktop with a GPU needs none of this.

use std::collections::{HashMap, HashSet};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use confab_media::sync::lock;
use std::thread;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

const DISPLAY_ID: u32 = 1;
const DISPLAY_GET_REGISTRY: u16 = 1;
const REGISTRY_BIND: u16 = 0;
const SCREENCOPY: &[u8] = b"zwlr_screencopy_manager_v1";
const MANAGER_CAPTURE_OUTPUT: u16 = 0;
const MANAGER_CAPTURE_OUTPUT_REGION: u16 = 1;
const FRAME_DESTROY: u16 = 1;
const FRAME_BUFFER: u16 = 0;
const FRAME_LINUX_DMABUF: u16 = 5;
const FRAME_BUFFER_DONE: u16 = 6;

/// What the proxy has seen of one client's objects.
#[derive(Debug, Default)]
struct Objects {
    registries: HashSet<u32>,
    managers: HashSet<u32>,
    /// Screencopy frames, with the size from their `buffer` event and whether the compositor
    /// offered a DMA-BUF format itself.
    frames: HashMap<u32, Frame>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Frame {
    size: Option<(u32, u32, u32)>,
    offered_dmabuf: bool,
}

type Shared = Arc<Mutex<Objects>>;

/// Starts the proxy at `listen` in front of the compositor socket `upstream`.
pub fn start(listen: PathBuf, upstream: PathBuf) -> io::Result<()> {
    let listener = UnixListener::bind(&listen)?;
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let upstream = upstream.clone();
            thread::spawn(move || {
                if let Err(error) = serve(client, &upstream) {
                    eprintln!("wayland proxy: a connection ended: {error}");
                }
            });
        }
    });
    Ok(())
}

fn serve(client: UnixStream, upstream: &Path) -> io::Result<()> {
    let server = UnixStream::connect(upstream)?;
    let objects = Shared::default();
    let requests = {
        let (from, to) = (client.try_clone()?, server.try_clone()?);
        let objects = Arc::clone(&objects);
        thread::spawn(move || pump(&from, &to, |bytes| observe_requests(bytes, &objects)))
    };
    let events = pump(&server, &client, |bytes| offer_dmabuf(bytes, &objects));
    // Either side closing ends both directions.
    let _ = client.shutdown(std::net::Shutdown::Both);
    let _ = server.shutdown(std::net::Shutdown::Both);
    let _ = requests.join();
    events
}

/// Copies messages and descriptors from `from` to `to`. `edit` gets the pending bytes and
/// returns how many of them are whole messages, and what to send for them (the rest wait for
/// more bytes). Descriptors travel with the next bytes sent after they arrived (a stream
/// socket carries them only with at least one byte), so never after their message.
fn pump(
    from: &UnixStream,
    to: &UnixStream,
    mut edit: impl FnMut(&[u8]) -> (usize, Vec<u8>),
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut fds: Vec<RawFd> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = receive(from, &mut chunk, &mut fds)?;
        if read == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&chunk[..read]);
        let (whole, out) = edit(&pending);
        if !out.is_empty() {
            send(to, &out, &fds)?;
            fds.clear();
        }
        pending.drain(..whole);
    }
}

/// Calls `each` on every whole message at the start of `bytes` with its object id, opcode
/// and arguments; returns their total length.
fn messages(bytes: &[u8], mut each: impl FnMut(u32, u16, &[u8], &[u8])) -> usize {
    let mut at = 0;
    while bytes.len() - at >= 8 {
        let object = word(&bytes[at..]);
        let size_and_opcode = word(&bytes[at + 4..]);
        let size = (size_and_opcode >> 16) as usize;
        if size < 8 || bytes.len() - at < size {
            break;
        }
        let message = &bytes[at..at + size];
        each(
            object,
            (size_and_opcode & 0xffff) as u16,
            &message[8..],
            message,
        );
        at += size;
    }
    at
}

fn observe_requests(bytes: &[u8], objects: &Shared) -> (usize, Vec<u8>) {
    let mut objects = lock(objects);
    let whole = messages(bytes, |object, opcode, args, _| {
        if object == DISPLAY_ID && opcode == DISPLAY_GET_REGISTRY && args.len() >= 4 {
            objects.registries.insert(word(args));
        } else if objects.registries.contains(&object) && opcode == REGISTRY_BIND {
            // name, interface (string), version, new id
            if let Some((interface, rest)) = string(args.get(4..).unwrap_or_default())
                && interface == SCREENCOPY
                && rest.len() >= 8
            {
                objects.managers.insert(word(&rest[4..]));
            }
        } else if objects.managers.contains(&object)
            && matches!(
                opcode,
                MANAGER_CAPTURE_OUTPUT | MANAGER_CAPTURE_OUTPUT_REGION
            )
            && args.len() >= 4
        {
            objects.frames.insert(word(args), Frame::default());
        } else if opcode == FRAME_DESTROY {
            objects.frames.remove(&object);
        }
    });
    (whole, bytes[..whole].to_vec())
}

fn offer_dmabuf(bytes: &[u8], objects: &Shared) -> (usize, Vec<u8>) {
    let mut objects = lock(objects);
    let mut out = Vec::with_capacity(bytes.len() + 20);
    let whole = messages(bytes, |object, opcode, args, message| {
        if let Some(frame) = objects.frames.get_mut(&object) {
            match opcode {
                FRAME_BUFFER if args.len() >= 12 => {
                    frame.size = Some((word(args), word(&args[4..]), word(&args[8..])));
                }
                FRAME_LINUX_DMABUF => frame.offered_dmabuf = true,
                FRAME_BUFFER_DONE if !frame.offered_dmabuf => {
                    if let Some((format, width, height)) = frame.size {
                        let fourcc = drm_fourcc(format);
                        out.extend(event(object, FRAME_LINUX_DMABUF, &[fourcc, width, height]));
                    }
                }
                _ => {}
            }
        }
        out.extend_from_slice(message);
    });
    (whole, out)
}

/// wl_shm's format codes are DRM fourccs, except its first two.
fn drm_fourcc(shm_format: u32) -> u32 {
    match shm_format {
        0 => u32::from_le_bytes(*b"AR24"),
        1 => u32::from_le_bytes(*b"XR24"),
        other => other,
    }
}

fn event(object: u32, opcode: u16, args: &[u32]) -> Vec<u8> {
    let size = 8 + 4 * args.len() as u32;
    let mut message = Vec::with_capacity(size as usize);
    message.extend_from_slice(&object.to_ne_bytes());
    message.extend_from_slice(&((size << 16) | u32::from(opcode)).to_ne_bytes());
    for arg in args {
        message.extend_from_slice(&arg.to_ne_bytes());
    }
    message
}

/// A wire string (u32 length with its NUL, then the bytes padded to 4) and what follows it.
fn string(args: &[u8]) -> Option<(&[u8], &[u8])> {
    let length = word(args.get(..4)?) as usize;
    let text = args.get(4..4 + length.checked_sub(1)?)?;
    let rest = args.get(4 + length.div_ceil(4) * 4..)?;
    Some((text, rest))
}

fn word(bytes: &[u8]) -> u32 {
    u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn receive(from: &UnixStream, buffer: &mut [u8], fds: &mut Vec<RawFd>) -> io::Result<usize> {
    let mut iov = [IoSliceMut::new(buffer)];
    let mut control = nix::cmsg_space!([RawFd; 32]);
    let message = recvmsg::<()>(
        from.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for control in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(received) = control {
            fds.extend(received);
        }
    }
    Ok(message.bytes)
}

/// Sends `bytes`, the descriptors with the first of them, then closes this side's copies.
fn send(to: &UnixStream, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let mut sent = 0;
    let mut rights: &[RawFd] = fds;
    let result = loop {
        if sent == bytes.len() {
            break Ok(());
        }
        let control = [ControlMessage::ScmRights(rights)];
        let control: &[ControlMessage] = if rights.is_empty() { &[] } else { &control };
        match sendmsg::<()>(
            to.as_raw_fd(),
            &[IoSlice::new(&bytes[sent..])],
            control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(written) => {
                sent += written;
                rights = &[];
            }
            Err(error) => break Err(io::Error::from(error)),
        }
    };
    for &fd in fds {
        // The receiver has its own copy now (or the connection is over).
        let _ = nix::unistd::close(fd);
    }
    result
}

#[test]
fn a_screencopy_frame_without_a_dmabuf_offer_gets_one_before_buffer_done() {
    let objects = Shared::default();
    let mut requests = event(DISPLAY_ID, DISPLAY_GET_REGISTRY, &[2]);
    // wl_registry.bind(name 9, "zwlr_screencopy_manager_v1", version 3, new id 5)
    let mut bind = [
        9u32.to_ne_bytes(),
        (SCREENCOPY.len() as u32 + 1).to_ne_bytes(),
    ]
    .concat();
    bind.extend_from_slice(SCREENCOPY);
    bind.resize(8 + (SCREENCOPY.len() + 1).div_ceil(4) * 4, 0);
    bind.extend_from_slice(&3u32.to_ne_bytes());
    bind.extend_from_slice(&5u32.to_ne_bytes());
    requests.extend_from_slice(&2u32.to_ne_bytes());
    requests.extend_from_slice(
        &((((8 + bind.len()) as u32) << 16) | u32::from(REGISTRY_BIND)).to_ne_bytes(),
    );
    requests.extend(bind);
    requests.extend(event(5, MANAGER_CAPTURE_OUTPUT, &[7, 0, 4]));
    let (whole, forwarded) = observe_requests(&requests, &objects);
    assert_eq!((whole, &forwarded), (requests.len(), &requests));
    assert!(lock(&objects).frames.contains_key(&7));

    let mut events = event(7, FRAME_BUFFER, &[1, 1280, 720, 5120]);
    events.extend(event(7, FRAME_BUFFER_DONE, &[]));
    events.extend(event(8, FRAME_BUFFER_DONE, &[]));
    let partial = event(7, FRAME_BUFFER_DONE, &[]);
    events.extend_from_slice(&partial[..4]);
    let (whole, out) = offer_dmabuf(&events, &objects);
    assert_eq!(whole, events.len() - 4, "the partial message waits");
    let mut expected = event(7, FRAME_BUFFER, &[1, 1280, 720, 5120]);
    expected.extend(event(
        7,
        FRAME_LINUX_DMABUF,
        &[u32::from_le_bytes(*b"XR24"), 1280, 720],
    ));
    expected.extend(event(7, FRAME_BUFFER_DONE, &[]));
    expected.extend(event(8, FRAME_BUFFER_DONE, &[]));
    assert_eq!(out, expected);
}

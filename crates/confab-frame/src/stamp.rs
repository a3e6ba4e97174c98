//! A frame counter and capture time drawn into the pixels, so that any receiver — ours, a
//! Python peer, a browser canvas — can read them back after encoding, the SFU and decoding.
//!
//! The stamp is 64 cells: 16 columns × 4 rows over the top quarter of the frame, each cell
//! black (0) or white (1), most significant bit first, row by row. Its 8 bytes are the frame
//! counter (24 bits), the capture time in Unix milliseconds modulo 2³² (32 bits) and a CRC-8
//! of the first 7 bytes (CRC-8/I-432-1: polynomial 0x07, output XOR 0x55, so that an all-black
//! frame is no stamp). Cells are a sixteenth of the width and height, so
//! they survive every simulcast layer down to 320×180 and any codec at sane bitrates; the CRC
//! rejects frames read wrongly (a half-decoded frame, someone else's video).

use crate::i420::VideoFrame;

pub const COLUMNS: usize = 16;
pub const ROWS: usize = 4;
const BITS: usize = COLUMNS * ROWS;
/// Video range luma of the two cell colours.
const BLACK: u8 = 16;
const WHITE: u8 = 235;
const THRESHOLD: u32 = 126;

/// What a stamp says about its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStamp {
    /// Frames since the source started, modulo 2²⁴.
    pub counter: u32,
    /// When the frame was captured: Unix milliseconds modulo 2³².
    pub captured_ms: u32,
}

impl FrameStamp {
    pub const COUNTER_MASK: u32 = 0x00ff_ffff;

    fn bytes(self) -> [u8; 8] {
        let counter = (self.counter & Self::COUNTER_MASK).to_be_bytes();
        let time = self.captured_ms.to_be_bytes();
        let mut bytes = [
            counter[1], counter[2], counter[3], time[0], time[1], time[2], time[3], 0,
        ];
        bytes[7] = crc8(&bytes[..7]);
        bytes
    }

    /// Milliseconds from capture to `now_unix_ms` (both on this machine's clock), allowing
    /// for the stamp's 32-bit wrap.
    pub fn age_ms(self, now_unix_ms: u64) -> u32 {
        (now_unix_ms as u32).wrapping_sub(self.captured_ms)
    }
}

/// Draws `stamp` over the top quarter of `frame`'s luma.
pub fn draw(frame: &mut VideoFrame, stamp: FrameStamp) {
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let bits = stamp.bytes();
    let (luma, _, _) = frame.planes_mut();
    for bit in 0..BITS {
        let on = bits[bit / 8] & (0x80 >> (bit % 8)) != 0;
        let value = if on { WHITE } else { BLACK };
        let ((left, right), (top, bottom)) = cell(bit, width, height);
        for row in top..bottom {
            luma[row * width + left..row * width + right].fill(value);
        }
    }
}

/// Reads a stamp back from a decoded frame; `None` when there is none or it reads wrongly.
pub fn read(frame: &VideoFrame) -> Option<FrameStamp> {
    read_luma(
        frame.planes().y,
        frame.width() as usize,
        frame.height() as usize,
    )
}

/// [`read`] on a bare luma plane of `width` × `height` (tightly packed).
pub fn read_luma(luma: &[u8], width: usize, height: usize) -> Option<FrameStamp> {
    if width < COLUMNS * 4 || height < ROWS * 16 || luma.len() < width * height {
        return None;
    }
    let mut bytes = [0u8; 8];
    for bit in 0..BITS {
        let ((left, right), (top, bottom)) = cell(bit, width, height);
        // The middle half of the cell: edges blur under compression and scaling.
        let (left, right) = inner(left, right);
        let (top, bottom) = inner(top, bottom);
        let mut sum = 0u32;
        for row in top..bottom {
            sum += luma[row * width + left..row * width + right]
                .iter()
                .map(|&p| u32::from(p))
                .sum::<u32>();
        }
        let mean = sum / ((right - left) * (bottom - top)) as u32;
        if mean > THRESHOLD {
            bytes[bit / 8] |= 0x80 >> (bit % 8);
        }
    }
    (crc8(&bytes[..7]) == bytes[7]).then(|| FrameStamp {
        counter: u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]),
        captured_ms: u32::from_be_bytes([bytes[3], bytes[4], bytes[5], bytes[6]]),
    })
}

/// Column and row pixel ranges of cell `bit`.
fn cell(bit: usize, width: usize, height: usize) -> ((usize, usize), (usize, usize)) {
    let (column, row) = (bit % COLUMNS, bit / COLUMNS);
    let columns = (column * width / COLUMNS, (column + 1) * width / COLUMNS);
    // Rows are a sixteenth of the height each: the stamp fills the top quarter.
    let rows = (row * height / 16, (row + 1) * height / 16);
    (columns, rows)
}

fn inner(start: usize, end: usize) -> (usize, usize) {
    let quarter = (end - start) / 4;
    (start + quarter, (end - quarter).max(start + quarter + 1))
}

/// CRC-8/I-432-1: polynomial 0x07, initial value 0, output XOR 0x55.
pub fn crc8(bytes: &[u8]) -> u8 {
    let crc = bytes.iter().fold(0u8, |mut crc, &byte| {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
        crc
    });
    crc ^ 0x55
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i420::I420Layout;
    use crate::scale::scale;

    fn frame(width: u32, height: u32) -> VideoFrame {
        VideoFrame::black(I420Layout::new(width, height).expect("valid"))
    }

    #[test]
    fn crc8_matches_the_catalogued_check_value() {
        assert_eq!(crc8(b"123456789"), 0xA1);
    }

    #[test]
    fn a_drawn_stamp_reads_back_at_every_layer_size() {
        let stamp = FrameStamp {
            counter: 0x00ab_cdef,
            captured_ms: 0xdead_beef,
        };
        let mut full = frame(1280, 720);
        draw(&mut full, stamp);
        assert_eq!(read(&full), Some(stamp));
        for (width, height) in [(640, 360), (320, 180), (160, 90)] {
            let layout = I420Layout::new(width, height).expect("valid");
            assert_eq!(read(&scale(&full, layout)), Some(stamp), "{width}×{height}");
        }
    }

    #[test]
    fn frames_without_a_stamp_or_with_a_damaged_one_read_as_none() {
        assert_eq!(read(&frame(640, 360)), None);
        let mut damaged = frame(640, 360);
        draw(
            &mut damaged,
            FrameStamp {
                counter: 7,
                captured_ms: 9,
            },
        );
        // Flip the first cell (the counter's top bit).
        let (luma, _, _) = damaged.planes_mut();
        for row in 0..22 {
            luma[row * 640..row * 640 + 40].fill(WHITE);
        }
        assert_eq!(read(&damaged), None);
        assert_eq!(read(&frame(32, 32)), None, "too small to carry a stamp");
    }

    #[test]
    fn the_counter_wraps_at_24_bits_and_age_wraps_at_32() {
        let mut full = frame(320, 180);
        draw(
            &mut full,
            FrameStamp {
                counter: 0x0100_0005,
                captured_ms: u32::MAX,
            },
        );
        let read_back = read(&full).expect("stamp");
        assert_eq!(read_back.counter, 5);
        assert_eq!(read_back.age_ms(u64::from(u32::MAX) + 11), 11);
    }
}

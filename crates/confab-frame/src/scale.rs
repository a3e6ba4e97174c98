//! Downscaling I420 frames for simulcast layers and for the size a tile shows.
//!
//! Each destination pixel is the mean of the source pixels its area covers (a box filter):
//! exact for the 2× and 4× steps between LiveKit's layers, and free of the aliasing that
//! point sampling gives text in screen shares.

use crate::i420::{I420Layout, VideoFrame};

/// `frame` scaled to `target` (which must not be larger in either dimension; a larger target
/// is returned as a copy of the source scaled by nearest-neighbour repetition, which keeps the
/// function total but is never used for upscaling in the pipeline).
pub fn scale(frame: &VideoFrame, target: I420Layout) -> VideoFrame {
    let source = frame.layout();
    if source == target {
        return frame.clone();
    }
    let mut out = VideoFrame::black(target);
    let planes = frame.planes();
    let (y, u, v) = out.planes_mut();
    scale_plane(
        planes.y,
        (source.width as usize, source.height as usize),
        y,
        (target.width as usize, target.height as usize),
    );
    let source_chroma = (source.chroma_width(), source.chroma_height());
    let target_chroma = (target.chroma_width(), target.chroma_height());
    scale_plane(planes.u, source_chroma, u, target_chroma);
    scale_plane(planes.v, source_chroma, v, target_chroma);
    out
}

/// Box-filters one plane of `from` (width, height) into `to`.
fn scale_plane(source: &[u8], from: (usize, usize), target: &mut [u8], to: (usize, usize)) {
    if from == (2 * to.0, 2 * to.1) {
        halve_plane(source, from.0, target, to.0);
    } else {
        box_filter_plane(source, from, target, to);
    }
}

/// The 2:1 step between simulcast layers: each pixel the rounded mean of a 2×2 block, the
/// same as [`box_filter_plane`] gives, in a loop the compiler vectorises (the general filter
/// took most of the simulcast encoder's time outside libvpx).
fn halve_plane(source: &[u8], source_width: usize, target: &mut [u8], target_width: usize) {
    for (target_row, rows) in target
        .chunks_exact_mut(target_width)
        .zip(source.chunks_exact(2 * source_width))
    {
        let (top, bottom) = rows.split_at(source_width);
        for ((pixel, top), bottom) in target_row
            .iter_mut()
            .zip(top.chunks_exact(2))
            .zip(bottom.chunks_exact(2))
        {
            let sum =
                u16::from(top[0]) + u16::from(top[1]) + u16::from(bottom[0]) + u16::from(bottom[1]);
            *pixel = ((sum + 2) / 4) as u8;
        }
    }
}

/// Any ratio: each pixel the mean of the source area it covers.
fn box_filter_plane(source: &[u8], from: (usize, usize), target: &mut [u8], to: (usize, usize)) {
    let (source_width, source_height) = from;
    let (target_width, target_height) = to;
    // Column spans are the same for every row: compute them once.
    let columns: Vec<(usize, usize)> = (0..target_width)
        .map(|x| span(x, source_width, target_width))
        .collect();
    let mut sums = vec![0u32; target_width];
    for (row, target_row) in target.chunks_exact_mut(target_width).enumerate() {
        let (top, bottom) = span(row, source_height, target_height);
        sums.fill(0);
        for source_row in
            source[top * source_width..bottom * source_width].chunks_exact(source_width)
        {
            for (sum, &(left, right)) in sums.iter_mut().zip(&columns) {
                *sum += source_row[left..right]
                    .iter()
                    .map(|&p| u32::from(p))
                    .sum::<u32>();
            }
        }
        let rows = (bottom - top) as u32;
        for ((pixel, sum), &(left, right)) in target_row.iter_mut().zip(&sums).zip(&columns) {
            let count = rows * (right - left) as u32;
            *pixel = ((sum + count / 2) / count) as u8;
        }
    }
}

/// The source range `[start, end)` that destination index `index` covers; never empty.
fn span(index: usize, source_len: usize, target_len: usize) -> (usize, usize) {
    let start = index * source_len / target_len;
    let end = ((index + 1) * source_len / target_len).max(start + 1);
    (start.min(source_len - 1), end.min(source_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(width: u32, height: u32) -> I420Layout {
        I420Layout::new(width, height).expect("valid")
    }

    #[test]
    fn halving_averages_each_two_by_two_block() {
        let mut frame = VideoFrame::black(layout(4, 2));
        let (y, u, v) = frame.planes_mut();
        y.copy_from_slice(&[0, 10, 100, 200, 20, 30, 100, 0]);
        u.copy_from_slice(&[50, 60]);
        v.copy_from_slice(&[70, 80]);
        let half = scale(&frame, layout(2, 1));
        assert_eq!(half.planes().y, &[15, 100]);
        // 4×2 has 2×1 chroma; 2×1 has 1×1.
        assert_eq!(half.planes().u, &[55]);
        assert_eq!(half.planes().v, &[75]);
    }

    #[test]
    fn halving_matches_the_general_box_filter() {
        // An odd-looking but deterministic plane: every value and neighbour mix occurs.
        let (width, height) = (64, 18);
        let source: Vec<u8> = (0..width * height)
            .map(|i| ((i * 7919 + i / 13 * 31) % 256) as u8)
            .collect();
        let mut halved = vec![0; width * height / 4];
        let mut filtered = vec![0; width * height / 4];
        halve_plane(&source, width, &mut halved, width / 2);
        box_filter_plane(
            &source,
            (width, height),
            &mut filtered,
            (width / 2, height / 2),
        );
        assert_eq!(halved, filtered);
        assert!(halved.iter().any(|&p| p != halved[0]));
    }

    #[test]
    fn uniform_frames_stay_uniform_at_any_ratio() {
        let mut frame = VideoFrame::black(layout(1280, 720));
        frame.planes_mut().0.fill(200);
        for (width, height) in [(640, 360), (320, 180), (427, 241), (1, 1)] {
            let scaled = scale(&frame, layout(width, height));
            assert_eq!(scaled.width(), width);
            assert!(scaled.planes().y.iter().all(|&p| p == 200));
            assert!(scaled.planes().u.iter().all(|&p| p == 128));
        }
    }

    #[test]
    fn the_same_size_is_a_copy_and_larger_sizes_repeat_pixels() {
        let mut frame = VideoFrame::black(layout(2, 2));
        frame.planes_mut().0.copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(scale(&frame, layout(2, 2)), frame);
        let double = scale(&frame, layout(4, 4));
        assert_eq!(&double.planes().y[..4], &[1, 1, 2, 2]);
    }
}

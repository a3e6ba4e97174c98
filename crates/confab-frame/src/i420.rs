//! Plane layout of I420 (YUV 4:2:0 planar) frames, the format between capture, codecs and render.

/// The Y, U and V planes of one frame, borrowed from a packed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I420Planes<'a> {
    pub y: &'a [u8],
    pub u: &'a [u8],
    pub v: &'a [u8],
}

/// Byte offsets and strides of a tightly packed I420 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I420Layout {
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum I420LayoutError {
    #[error("a frame must be at least 1×1, got {width}×{height}")]
    Empty { width: u32, height: u32 },
    #[error("{width}×{height} is larger than any supported frame (16384×16384)")]
    TooLarge { width: u32, height: u32 },
    #[error("buffer holds {actual} bytes, a {width}×{height} I420 frame needs {expected}")]
    WrongBufferSize {
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
}

/// Cameras and screens never exceed this; larger sizes come from corrupt headers.
pub const MAX_DIMENSION: u32 = 16_384;

impl I420Layout {
    pub fn new(width: u32, height: u32) -> Result<Self, I420LayoutError> {
        if width == 0 || height == 0 {
            return Err(I420LayoutError::Empty { width, height });
        }
        if width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(I420LayoutError::TooLarge { width, height });
        }
        Ok(Self { width, height })
    }

    /// Chroma planes cover 2×2 luma blocks, rounding up so odd sizes (e.g. a 1366×767 window)
    /// keep their last row and column.
    pub fn chroma_width(&self) -> usize {
        self.width.div_ceil(2) as usize
    }

    pub fn chroma_height(&self) -> usize {
        self.height.div_ceil(2) as usize
    }

    pub fn luma_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    pub fn chroma_len(&self) -> usize {
        self.chroma_width() * self.chroma_height()
    }

    pub fn frame_len(&self) -> usize {
        self.luma_len() + 2 * self.chroma_len()
    }

    /// Splits a packed buffer into its Y, U and V planes after checking its size.
    pub fn planes<'a>(&self, buffer: &'a [u8]) -> Result<I420Planes<'a>, I420LayoutError> {
        if buffer.len() != self.frame_len() {
            return Err(I420LayoutError::WrongBufferSize {
                width: self.width,
                height: self.height,
                expected: self.frame_len(),
                actual: buffer.len(),
            });
        }
        let (y, chroma) = buffer.split_at(self.luma_len());
        let (u, v) = chroma.split_at(self.chroma_len());
        Ok(I420Planes { y, u, v })
    }
}

/// One owned, tightly packed I420 frame: what capture produces, encoders take and decoders
/// return.
#[derive(Clone, PartialEq, Eq)]
pub struct VideoFrame {
    layout: I420Layout,
    data: Vec<u8>,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VideoFrame({}×{})",
            self.layout.width, self.layout.height
        )
    }
}

impl VideoFrame {
    /// A frame of `layout` filled with black (Y 16, neutral chroma).
    pub fn black(layout: I420Layout) -> Self {
        let mut data = vec![128; layout.frame_len()];
        data[..layout.luma_len()].fill(16);
        Self { layout, data }
    }

    /// Takes a packed buffer after checking its size.
    pub fn from_packed(layout: I420Layout, data: Vec<u8>) -> Result<Self, I420LayoutError> {
        layout.planes(&data)?;
        Ok(Self { layout, data })
    }

    pub fn layout(&self) -> I420Layout {
        self.layout
    }

    pub fn width(&self) -> u32 {
        self.layout.width
    }

    pub fn height(&self) -> u32 {
        self.layout.height
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn planes(&self) -> I420Planes<'_> {
        let (y, chroma) = self.data.split_at(self.layout.luma_len());
        let (u, v) = chroma.split_at(self.layout.chroma_len());
        I420Planes { y, u, v }
    }

    /// The Y, U and V planes, writable.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (y, chroma) = self.data.split_at_mut(self.layout.luma_len());
        let (u, v) = chroma.split_at_mut(self.layout.chroma_len());
        (y, u, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_sizes_use_a_quarter_per_chroma_plane() {
        let layout = I420Layout::new(1280, 720).expect("valid");
        assert_eq!(layout.luma_len(), 921_600);
        assert_eq!(layout.chroma_len(), 230_400);
        assert_eq!(layout.frame_len(), 1_382_400);
    }

    #[test]
    fn odd_sizes_round_chroma_up() {
        let layout = I420Layout::new(1366, 767).expect("valid");
        assert_eq!((layout.chroma_width(), layout.chroma_height()), (683, 384));
        let tiny = I420Layout::new(1, 1).expect("valid");
        assert_eq!(tiny.frame_len(), 3);
    }

    #[test]
    fn splits_planes_at_the_right_offsets() {
        let layout = I420Layout::new(4, 2).expect("valid");
        let buffer: Vec<u8> = (0..12).collect();
        let planes = layout.planes(&buffer).expect("sized");
        assert_eq!(planes.y, &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(planes.u, &[8, 9]);
        assert_eq!(planes.v, &[10, 11]);
    }

    #[test]
    fn owned_frames_check_their_buffer_and_split_planes() {
        let layout = I420Layout::new(4, 2).expect("valid");
        assert!(VideoFrame::from_packed(layout, vec![0; 11]).is_err());
        let mut frame = VideoFrame::black(layout);
        assert_eq!(frame.planes().y, &[16; 8]);
        let (_, u, _) = frame.planes_mut();
        u[1] = 7;
        assert_eq!(frame.planes().u, &[128, 7]);
        assert_eq!(frame.planes().v, &[128, 128]);
    }

    #[test]
    fn rejects_bad_sizes_and_buffers() {
        assert!(matches!(
            I420Layout::new(0, 10),
            Err(I420LayoutError::Empty { .. })
        ));
        assert!(matches!(
            I420Layout::new(20_000, 10),
            Err(I420LayoutError::TooLarge { .. })
        ));
        let layout = I420Layout::new(4, 2).expect("valid");
        assert_eq!(
            layout.planes(&[0; 11]),
            Err(I420LayoutError::WrongBufferSize {
                width: 4,
                height: 2,
                expected: 12,
                actual: 11
            })
        );
    }
}

// The test pattern's stamp read back from pixels, shared by the browser conformance page and
// the app's end-to-end test (which reads it from a tile's canvas): 16 x 4 cells over the top
// quarter of a frame, black 0 / white 1, as confab_media::video::stamp writes them.

// CRC-8/I-432-1, as confab_media::video::stamp computes it.
function crc8(bytes) {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc ^ 0x55;
}

// The test pattern's stamp (16 x 4 cells over the top quarter, black 0 / white 1) read from
// the RGBA pixels of the top quarter of a frame, as confab_media::video::stamp::read reads it
// from luma (its luma threshold 126 is about 128 in full-range RGB).
function readStamp(pixels, width, height) {
  const bytes = new Uint8Array(8);
  for (let bit = 0; bit < 64; bit++) {
    const column = bit % 16, row = Math.floor(bit / 16);
    const left = Math.floor((column * width) / 16), right = Math.floor(((column + 1) * width) / 16);
    const top = Math.floor((row * height) / 16), bottom = Math.floor(((row + 1) * height) / 16);
    const dx = Math.floor((right - left) / 4), dy = Math.floor((bottom - top) / 4);
    let sum = 0, count = 0;
    for (let y = top + dy; y < Math.max(bottom - dy, top + dy + 1); y++) {
      for (let x = left + dx; x < Math.max(right - dx, left + dx + 1); x++) {
        const at = (y * width + x) * 4;
        sum += (299 * pixels[at] + 587 * pixels[at + 1] + 114 * pixels[at + 2]) / 1000;
        count++;
      }
    }
    if (sum / count > 128) bytes[bit >> 3] |= 0x80 >> (bit % 8);
  }
  if (crc8(bytes.subarray(0, 7)) !== bytes[7]) return null;
  return {
    counter: (bytes[0] << 16) | (bytes[1] << 8) | bytes[2],
    capturedMs: ((bytes[3] << 24) >>> 0) + ((bytes[4] << 16) | (bytes[5] << 8) | bytes[6]),
  };
}

// The stamp shown on `canvas` (2D or WebGL with a preserved drawing buffer); null when it
// shows none.
function readCanvasStamp(canvas) {
  return readSourceStamp(canvas, canvas.width, canvas.height);
}

// The stamp in what `source` (a canvas or a video element) shows at `width` x `height`,
// copied through a 2D canvas of that size; null when it shows none.
function readSourceStamp(source, width, height) {
  if (!width || !height) return null;
  const copy = document.createElement("canvas");
  copy.width = width;
  copy.height = height;
  const context = copy.getContext("2d", { willReadFrequently: true });
    context.drawImage(source, 0, 0, width, height);
  const rows = Math.ceil(height / 4);
  return readStamp(context.getImageData(0, 0, width, rows).data, width, height);
}

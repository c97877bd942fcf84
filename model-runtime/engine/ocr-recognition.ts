import { RgbImage } from './media-input';
import { Point, distance } from './ocr-geometry';
import type { Quad } from './ocr-detection';

// PP-OCR CRNN/SVTR recognition: crop each detected box upright, resize to height 48, normalise
// to [-1, 1], then greedy CTC decoding.

export const REC_HEIGHT = 48;
/** PaddleOCR's rec_image_shape width: no batch is narrower than 320 pixels. */
const MIN_WIDTH_RATIO = 320 / REC_HEIGHT;
/** Caps one crop's width (and a batch's memory) for absurdly long boxes. */
const MAX_WIDTH_RATIO = 80;

export interface TextCrop {
  /** Where the crop's pixel (0,0) lies in the source, and the source-space vectors spanning its width and height. */
  origin: Point;
  across: Point;
  down: Point;
  /** Width / height of the upright crop. */
  ratio: number;
}

/**
 * PaddleOCR's get_rotate_crop_image: the box as an upright rectangle, turned 90° counter-clockwise
 * when it is at least 1.5 times taller than wide (vertical text).
 */
export function textCrop(box: Quad): TextCrop {
  const [p0, p1, p2, p3] = box;
  const width = Math.max(distance(p0, p1), distance(p2, p3), 1);
  const height = Math.max(distance(p0, p3), distance(p1, p2), 1);
  const acrossTop: Point = [p1[0] - p0[0], p1[1] - p0[1]];
  const downLeft: Point = [p3[0] - p0[0], p3[1] - p0[1]];
  if (height / width >= 1.5) {
    return { origin: p1, across: downLeft, down: [-acrossTop[0], -acrossTop[1]], ratio: height / width };
  }
  return { origin: p0, across: acrossTop, down: downLeft, ratio: width / height };
}

/** Rec input for crops of one batch: [n, 3, 48, W] with W fitting the widest, zero-padded right. */
export function recognitionInput(image: RgbImage[], crops: TextCrop[]): { data: Float32Array; width: number } {
  const batchRatio = Math.min(Math.max(MIN_WIDTH_RATIO, ...crops.map((c) => c.ratio)), MAX_WIDTH_RATIO);
  const width = Math.floor(REC_HEIGHT * batchRatio);
  const plane = REC_HEIGHT * width;
  const data = new Float32Array(crops.length * 3 * plane);
  crops.forEach((crop, n) => {
    const source = image[n];
    const resizedWidth = Math.min(width, Math.ceil(REC_HEIGHT * crop.ratio));
    const base = n * 3 * plane;
    for (let v = 0; v < REC_HEIGHT; v++) {
      const t = (v + 0.5) / REC_HEIGHT;
      for (let u = 0; u < resizedWidth; u++) {
        const s = (u + 0.5) / resizedWidth;
        const x = crop.origin[0] + s * crop.across[0] + t * crop.down[0] - 0.5;
        const y = crop.origin[1] + s * crop.across[1] + t * crop.down[1] - 0.5;
        const offset = v * width + u;
        for (let c = 0; c < 3; c++) {
          // BGR planes, as OpenCV fed the model in training.
          data[base + c * plane + offset] = (bilinear(source, x, y, 2 - c) / 255 - 0.5) / 0.5;
        }
      }
    }
  });
  return { data, width };
}

function bilinear(image: RgbImage, x: number, y: number, channel: number): number {
  const cx = Math.min(Math.max(x, 0), image.width - 1);
  const cy = Math.min(Math.max(y, 0), image.height - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(x0 + 1, image.width - 1);
  const y1 = Math.min(y0 + 1, image.height - 1);
  const fx = cx - x0;
  const fy = cy - y0;
  const at = (px: number, py: number) => image.data[(py * image.width + px) * 3 + channel];
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

/**
 * Class layout of ppocr_keys_v1 models: 0 is the CTC blank, 1..n are the key file's lines,
 * n+1 is the space PaddleOCR appends (use_space_char); 6623 keys give the model's 6625 classes.
 */
export function ctcGreedyDecode(
  probabilities: Float32Array, steps: number, classes: number, keys: string[],
): { text: string; score: number } {
  let text = '';
  let confidence = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const row = t * classes;
    let best = 0;
    for (let k = 1; k < classes; k++) if (probabilities[row + k] > probabilities[row + best]) best = k;
    if (best !== 0 && best !== previous) {
      text += best <= keys.length ? keys[best - 1] : ' ';
      confidence += probabilities[row + best];
      kept += 1;
    }
    previous = best;
  }
  return { text, score: kept ? confidence / kept : 0 };
}

import { RgbImage, resizeImage } from './media-input';
import { Point, RotatedRect, corners, minAreaRect, unclip } from './ocr-geometry';

// PP-OCR DB (differentiable binarisation) text detection, following PaddleOCR's
// DetResizeForTest / NormalizeImage / DBPostProcess with their default settings.

export interface DetectionSettings {
  /** The longer side is scaled down to at most this (PaddleOCR det_limit_side_len, type 'max'). */
  limitSideLen: number;
  /** Probability above which a pixel is text (thresh). */
  binaryThreshold: number;
  /** Mean probability a box needs to be kept (box_thresh). */
  boxThreshold: number;
  unclipRatio: number;
  maxCandidates: number;
}

export const DEFAULT_DETECTION: DetectionSettings = {
  limitSideLen: 960, binaryThreshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, maxCandidates: 1000,
};

export interface DetectionInput {
  data: Float32Array;
  width: number;
  height: number;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Resize to multiples of 32 and normalise as the model was trained: BGR planes (OpenCV order). */
export async function detectionInput(image: RgbImage, limitSideLen: number): Promise<DetectionInput> {
  const ratio = Math.max(image.width, image.height) > limitSideLen ? limitSideLen / Math.max(image.width, image.height) : 1;
  const width = Math.max(Math.round((image.width * ratio) / 32) * 32, 32);
  const height = Math.max(Math.round((image.height * ratio) / 32) * 32, 32);
  const resized = await resizeImage(image, width, height);
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const rgbChannel = 2 - c;
      data[c * plane + i] = (resized.data[i * 3 + rgbChannel] / 255 - MEAN[c]) / STD[c];
    }
  }
  return { data, width, height };
}

export type Quad = [Point, Point, Point, Point];

/**
 * Turns the probability map into text boxes in source-image pixels: threshold, 8-connected
 * regions (OpenCV's findContours gives their outlines), minimum rectangle, score, unclip.
 */
export function detectBoxes(
  probability: Float32Array, width: number, height: number,
  sourceWidth: number, sourceHeight: number, settings: DetectionSettings,
): Quad[] {
  const labels = new Int32Array(width * height);
  const boxes: Quad[] = [];
  let next = 0;
  const stack: number[] = [];
  for (let start = 0; start < labels.length && next < settings.maxCandidates; start++) {
    if (labels[start] !== 0 || probability[start] <= settings.binaryThreshold) continue;
    next += 1;
    labels[start] = next;
    stack.push(start);
    // Per row, the leftmost and rightmost pixel: their hull is the region's hull.
    const rowMin = new Map<number, number>();
    const rowMax = new Map<number, number>();
    while (stack.length) {
      const index = stack.pop()!;
      const x = index % width;
      const y = (index - x) / width;
      if (!(rowMin.get(y)! <= x)) rowMin.set(y, x);
      if (!(rowMax.get(y)! >= x)) rowMax.set(y, x);
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const neighbour = ny * width + nx;
          if (labels[neighbour] === 0 && probability[neighbour] > settings.binaryThreshold) {
            labels[neighbour] = next;
            stack.push(neighbour);
          }
        }
      }
    }
    const points: Point[] = [];
    for (const [y, x] of rowMin) points.push([x, y], [rowMax.get(y)!, y]);
    const rect = minAreaRect(points);
    if (Math.min(rect.halfLength, rect.halfWidth) * 2 < 3) continue;
    if (meanInside(probability, width, height, rect) < settings.boxThreshold) continue;
    const grown = unclip(rect, settings.unclipRatio);
    if (Math.min(grown.halfLength, grown.halfWidth) * 2 < 5) continue;
    const quad = corners(grown).map(([x, y]) => [
      clamp(Math.round((x / width) * sourceWidth), 0, sourceWidth),
      clamp(Math.round((y / height) * sourceHeight), 0, sourceHeight),
    ]) as Quad;
    if (Math.hypot(quad[1][0] - quad[0][0], quad[1][1] - quad[0][1]) <= 3) continue;
    if (Math.hypot(quad[3][0] - quad[0][0], quad[3][1] - quad[0][1]) <= 3) continue;
    boxes.push(quad);
  }
  return boxes;
}

/** PaddleOCR's box_score_fast: mean probability inside the rectangle. */
function meanInside(probability: Float32Array, width: number, height: number, rect: RotatedRect): number {
  const quad = corners(rect);
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const x0 = clamp(Math.floor(Math.min(...xs)), 0, width - 1);
  const x1 = clamp(Math.ceil(Math.max(...xs)), 0, width - 1);
  const y0 = clamp(Math.floor(Math.min(...ys)), 0, height - 1);
  const y1 = clamp(Math.ceil(Math.max(...ys)), 0, height - 1);
  const { center: [cx, cy], axis: [ax, ay], normal: [nx, ny], halfLength, halfWidth } = rect;
  let sum = 0;
  let count = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x - cx;
      const dy = y - cy;
      if (Math.abs(dx * ax + dy * ay) <= halfLength + 0.5 && Math.abs(dx * nx + dy * ny) <= halfWidth + 0.5) {
        sum += probability[y * width + x];
        count += 1;
      }
    }
  }
  return count ? sum / count : 0;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

/** PaddleOCR's sorted_boxes: top to bottom, then left to right within a 10-pixel line band. */
export function readingOrder<T extends { box: Quad }>(lines: T[]): T[] {
  const sorted = [...lines].sort((a, b) => a.box[0][1] - b.box[0][1] || a.box[0][0] - b.box[0][0]);
  for (let i = 0; i < sorted.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const [a, b] = [sorted[j], sorted[j + 1]];
      if (Math.abs(b.box[0][1] - a.box[0][1]) < 10 && b.box[0][0] < a.box[0][0]) {
        [sorted[j], sorted[j + 1]] = [b, a];
      } else break;
    }
  }
  return sorted;
}

// Plane geometry for DB text detection: what PaddleOCR gets from OpenCV (convex hull,
// minAreaRect) and pyclipper (unclip), for the rectangles DB post-processing works with.

export type Point = [number, number];

export interface RotatedRect {
  center: Point;
  /** Unit vector along the rectangle's long side, and its normal. */
  axis: Point;
  normal: Point;
  halfLength: number;
  halfWidth: number;
}

/** Andrew's monotone chain; input points need not be unique. */
export function convexHull(points: Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length < 3) return sorted;
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = sorted.length - 1; i >= 0; i--) {
    const p = sorted[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

/** Minimum-area enclosing rectangle: one side lies on a hull edge (rotating calipers). */
export function minAreaRect(points: Point[]): RotatedRect {
  const hull = convexHull(points);
  let best: RotatedRect | undefined;
  let bestArea = Number.POSITIVE_INFINITY;
  const edges: Point[] = hull.length > 1
    ? hull.map((p, i) => {
        const q = hull[(i + 1) % hull.length];
        return [q[0] - p[0], q[1] - p[1]];
      })
    : [[1, 0]];
  for (const [ex, ey] of edges) {
    const length = Math.hypot(ex, ey);
    if (length === 0) continue;
    const u: Point = [ex / length, ey / length];
    const v: Point = [-u[1], u[0]];
    let minU = Infinity, maxU = -Infinity, minV = Infinity, maxV = -Infinity;
    for (const [x, y] of hull) {
      const pu = x * u[0] + y * u[1];
      const pv = x * v[0] + y * v[1];
      minU = Math.min(minU, pu); maxU = Math.max(maxU, pu);
      minV = Math.min(minV, pv); maxV = Math.max(maxV, pv);
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      const center: Point = [cu * u[0] + cv * v[0], cu * u[1] + cv * v[1]];
      const [lengthSide, widthSide] = [(maxU - minU) / 2, (maxV - minV) / 2];
      best = lengthSide >= widthSide
        ? { center, axis: u, normal: v, halfLength: lengthSide, halfWidth: widthSide }
        : { center, axis: v, normal: u, halfLength: widthSide, halfWidth: lengthSide };
    }
  }
  return best ?? { center: hull[0] ?? [0, 0], axis: [1, 0], normal: [0, 1], halfLength: 0, halfWidth: 0 };
}

/**
 * PaddleOCR's unclip: pyclipper offsets the shrunk text kernel outward by
 * area × ratio / perimeter with round joins; the minimum rectangle around that is the rectangle
 * grown by the same distance on every side.
 */
export function unclip(rect: RotatedRect, ratio: number): RotatedRect {
  const length = rect.halfLength * 2;
  const width = rect.halfWidth * 2;
  const perimeter = 2 * (length + width);
  const distance = perimeter > 0 ? (length * width * ratio) / perimeter : 0;
  return { ...rect, halfLength: rect.halfLength + distance, halfWidth: rect.halfWidth + distance };
}

/** Corners ordered top-left, top-right, bottom-right, bottom-left (PaddleOCR's get_mini_boxes). */
export function corners(rect: RotatedRect): [Point, Point, Point, Point] {
  const { center: [cx, cy], axis: [ax, ay], normal: [nx, ny], halfLength: l, halfWidth: w } = rect;
  const points: Point[] = [
    [cx - ax * l - nx * w, cy - ay * l - ny * w],
    [cx + ax * l - nx * w, cy + ay * l - ny * w],
    [cx + ax * l + nx * w, cy + ay * l + ny * w],
    [cx - ax * l + nx * w, cy - ay * l + ny * w],
  ].sort((a, b) => a[0] - b[0]) as Point[];
  const [left1, left2, right1, right2] = points;
  const [topLeft, bottomLeft] = left1[1] <= left2[1] ? [left1, left2] : [left2, left1];
  const [topRight, bottomRight] = right1[1] <= right2[1] ? [right1, right2] : [right2, right1];
  return [topLeft, topRight, bottomRight, bottomLeft];
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

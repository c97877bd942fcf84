// A model that takes real device time per item: x [N, 16] → 16×512 → (512×512)ⁿ → y [N, 512].
// Used where a test needs shards that run long enough to be caught mid-flight (worker crash).
import { buildOnnxModel } from '../../model-runtime/engine/onnx-model-builder';

export function slowModel(layers = 6, width = 512): Uint8Array {
  const rand = (n: number) => Array.from({ length: n }, (_, i) => (((i * 2654435761) % 1000) / 1000 - 0.5) / width);
  const initializers = [{ name: 'w0', dims: [16, width], values: rand(16 * width) }];
  const nodes = [{ opType: 'MatMul', inputs: ['x', 'w0'], outputs: ['h0'] }];
  for (let i = 1; i <= layers; i++) {
    initializers.push({ name: `w${i}`, dims: [width, width], values: rand(width * width) });
    nodes.push({ opType: 'MatMul', inputs: [`h${i - 1}`, `w${i}`], outputs: [i === layers ? 'y' : `h${i}`] });
  }
  return buildOnnxModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['N', 16] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['N', width] }],
    initializers,
    nodes,
  });
}

export function slowItem(seed: number): unknown {
  return { x: { type: 'float32', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => ((seed + i) % 7) / 7) } };
}

import { buildOnnxModel } from '../onnx-model-builder';

/** y = x · k, x float32 [N, 3]: dim 0 batches; k makes each variant a distinct model file. */
export function scaleModel(k: number): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['N', 3] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['N', 3] }],
    initializers: [{ name: 'k', dims: [1], values: [k] }],
    nodes: [{ opType: 'Mul', inputs: ['x', 'k'], outputs: ['y'] }],
  });
}

/**
 * y = x · [1, 2, 3] with x float32 [N, D] and D dynamic: inputs with D = 3 (or 1) work, any
 * other D passes validation and fails inside ONNX Runtime — a per-item runtime failure.
 */
export function broadcastModel(): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['N', 'D'] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['N', 3] }],
    initializers: [{ name: 'k', dims: [3], values: [1, 2, 3] }],
    nodes: [{ opType: 'Mul', inputs: ['x', 'k'], outputs: ['y'] }],
  });
}

/** Mean of each colour plane as the logit: a "classifier" of red, green and blue images. */
export function colourClassifierModel(fixedSize?: number): Uint8Array {
  const side = fixedSize ?? 'S';
  return buildOnnxModel({
    inputs: [{ name: 'pixels', type: 'float32', shape: ['N', 3, side, side] }],
    outputs: [{ name: 'logits', type: 'float32', shape: ['N', 3] }],
    nodes: [{
      opType: 'ReduceMean', inputs: ['pixels'], outputs: ['logits'],
      attributes: [{ name: 'axes', ints: [2, 3] }, { name: 'keepdims', int: 0 }],
    }],
  });
}

/** Two inputs, fixed dims: a [2, 2] + b [2, 2] (not batchable: dim 0 is fixed). */
export function addModel(): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'a', type: 'float32', shape: [2, 2] }, { name: 'b', type: 'float32', shape: [2, 2] }],
    outputs: [{ name: 'sum', type: 'float32', shape: [2, 2] }],
    nodes: [{ opType: 'Add', inputs: ['a', 'b'], outputs: ['sum'] }],
  });
}

/** int64 passthrough, to check integer round-tripping. */
export function int64IdentityModel(): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'ids', type: 'int64', shape: ['N'] }],
    outputs: [{ name: 'out', type: 'int64', shape: ['N'] }],
    nodes: [{ opType: 'Identity', inputs: ['ids'], outputs: ['out'] }],
  });
}

export function floatTensor(dims: number[], data: number[]) {
  return { type: 'float32', dims, data };
}

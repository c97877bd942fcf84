import type { InferenceSession } from 'onnxruntime-node';

/** One model input or output as recorded at upload: -1 marks a dynamic or symbolic dimension. */
export interface TensorSpec {
  name: string;
  /** ONNX Runtime's type name: 'float32', 'int64', 'bool', ... ('non-tensor' for maps/sequences). */
  type: string;
  shape: number[];
}

export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

function specOf(metadata: InferenceSession.ValueMetadata): TensorSpec {
  if (!metadata.isTensor) return { name: metadata.name, type: 'non-tensor', shape: [] };
  return {
    name: metadata.name,
    type: metadata.type,
    shape: metadata.shape.map((dim) => (typeof dim === 'number' && dim >= 0 ? dim : -1)),
  };
}

export function signatureOf(session: InferenceSession): ModelSignature {
  return {
    inputs: session.inputMetadata.map(specOf),
    outputs: session.outputMetadata.map(specOf),
  };
}

/** "float32 [-1,3,48,-1]", the form used in every message about shapes. */
export function describeSpec(spec: TensorSpec): string {
  return `${spec.type} [${spec.shape.join(',')}]`;
}

export function describeSignature(signature: ModelSignature): string {
  const list = (specs: TensorSpec[]) => specs.map((s) => `'${s.name}' ${describeSpec(s)}`).join(', ');
  return `inputs ${list(signature.inputs)}; outputs ${list(signature.outputs)}`;
}

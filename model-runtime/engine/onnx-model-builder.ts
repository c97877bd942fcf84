// A hand-written protobuf encoder for small ONNX graphs. The engine uses it to probe execution
// providers without touching a user's model; tests use it to make tiny models instead of
// shipping binary fixtures. Only the fields of onnx.proto that such graphs need are encoded.

const ELEMENT_TYPES: Record<string, number> = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9, float16: 10, float64: 11,
};

export interface ValueInfo {
  name: string;
  type: keyof typeof ELEMENT_TYPES | string;
  /** A number is a fixed dimension; a string names a symbolic (dynamic) one. */
  shape: Array<number | string>;
}

export interface NodeAttribute {
  name: string;
  float?: number;
  int?: number;
  ints?: number[];
}

export interface GraphNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes?: NodeAttribute[];
}

export interface Initializer {
  name: string;
  dims: number[];
  /** float32 values. */
  values: number[];
}

export interface GraphDefinition {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: GraphNode[];
  initializers?: Initializer[];
  opset?: number;
}

class ProtoWriter {
  private readonly chunks: number[] = [];

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      this.chunks.push(byte);
    } while (v > 0n);
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }

  int(field: number, value: number): this {
    return this.tag(field, 0).varint(value);
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2).varint(value.length);
    for (const b of value) this.chunks.push(b);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const buf = new Uint8Array(new Float32Array([value]).buffer);
    for (const b of buf) this.chunks.push(b);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function elementType(type: string): number {
  const code = ELEMENT_TYPES[type];
  if (code === undefined) throw new Error(`onnx-model-builder: unsupported type ${type}`);
  return code;
}

function writeValueInfo(w: ProtoWriter, info: ValueInfo): void {
  w.string(1, info.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, elementType(info.type));
      tensor.message(2, (shape) => {
        for (const dim of info.shape) {
          shape.message(1, (d) => (typeof dim === 'number' ? d.int(1, dim) : d.string(2, dim)));
        }
      });
    }),
  );
}

function writeAttribute(w: ProtoWriter, attribute: NodeAttribute): void {
  w.string(1, attribute.name);
  // AttributeProto.type: FLOAT = 1, INT = 2, INTS = 7.
  if (attribute.float !== undefined) w.float(2, attribute.float).int(20, 1);
  else if (attribute.int !== undefined) w.int(3, attribute.int).int(20, 2);
  else if (attribute.ints !== undefined) {
    for (const v of attribute.ints) w.int(8, v);
    w.int(20, 7);
  }
}

/** Encodes a ModelProto (IR version 8) holding one graph. */
export function buildOnnxModel(graph: GraphDefinition): Uint8Array {
  const model = new ProtoWriter();
  model.int(1, 8);
  model.string(2, 'alliance-hub-engine');
  model.message(7, (g) => {
    graph.nodes.forEach((node, index) =>
      g.message(1, (n) => {
        node.inputs.forEach((name) => n.string(1, name));
        node.outputs.forEach((name) => n.string(2, name));
        n.string(3, `${node.opType.toLowerCase()}_${index}`);
        n.string(4, node.opType);
        node.attributes?.forEach((a) => n.message(5, (attr) => writeAttribute(attr, a)));
      }),
    );
    g.string(2, 'graph');
    graph.initializers?.forEach((init) =>
      g.message(5, (t) => {
        init.dims.forEach((d) => t.int(1, d));
        t.int(2, ELEMENT_TYPES.float32);
        t.string(8, init.name);
        t.bytes(9, new Uint8Array(Float32Array.from(init.values).buffer));
      }),
    );
    graph.inputs.forEach((info) => g.message(11, (v) => writeValueInfo(v, info)));
    graph.outputs.forEach((info) => g.message(12, (v) => writeValueInfo(v, info)));
  });
  model.message(8, (opset) => opset.string(1, '').int(2, graph.opset ?? 13));
  return model.finish();
}

/** y = x (float32 [1]): the smallest graph every execution provider can run. */
export function identityModel(): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'x', type: 'float32', shape: [1] }],
    outputs: [{ name: 'y', type: 'float32', shape: [1] }],
    nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
  });
}

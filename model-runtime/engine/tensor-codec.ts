import { Tensor } from 'onnxruntime-node';
import { EngineInputError } from './engine-errors';
import { TensorSpec, describeSpec } from './tensor-spec';

// The contract's JSON tensor form, { type, dims, data }, to and from ONNX Runtime tensors.

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

export interface HostTensor {
  type: string;
  dims: number[];
  data: TensorData;
}

export interface JsonTensor {
  type: string;
  dims: number[];
  data: Array<number | string | boolean>;
}

type ArrayConstructorOf = new (length: number) => TensorData;

const ARRAY_TYPES: Record<string, ArrayConstructorOf> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
};

const INTEGER_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-2147483648, 2147483647], uint32: [0, 4294967295],
};

export function isSupportedType(type: string): boolean {
  return type in ARRAY_TYPES;
}

export function allocate(type: string, length: number): TensorData {
  return new ARRAY_TYPES[type](length);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, d) => product * d, 1);
}

export function toOrtTensor(host: HostTensor): Tensor {
  return new Tensor(host.type as 'float32', host.data as Float32Array, host.dims);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates one JSON tensor against the model's spec for that input. */
export function parseJsonTensor(value: unknown, spec: TensorSpec, maxElements: number): HostTensor {
  const expects = `input '${spec.name}' expects ${describeSpec(spec)}`;
  if (!isObject(value)) throw new EngineInputError(`${expects}, got ${value === null ? 'null' : typeof value} instead of { type, dims, data }`);
  const { type, dims, data } = value;
  if (type !== spec.type) throw new EngineInputError(`${expects}, got type ${JSON.stringify(type)}`);
  if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new EngineInputError(`${expects}: dims must be a list of non-negative integers`);
  }
  const shapeFits = dims.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === dims[i]);
  if (!shapeFits) throw new EngineInputError(`${expects}, got dims [${dims.join(',')}]`);
  const count = elementCount(dims);
  if (count > maxElements) throw new EngineInputError(`input '${spec.name}' has ${count} elements; the limit is ${maxElements}`);
  if (!Array.isArray(data)) throw new EngineInputError(`input '${spec.name}': data must be a flat list of numbers`);
  if (data.length !== count) {
    throw new EngineInputError(`input '${spec.name}' with dims [${dims.join(',')}] needs ${count} values in data, got ${data.length}`);
  }
  return { type, dims: dims as number[], data: fillArray(spec.name, type, data) };
}

function fillArray(name: string, type: string, values: unknown[]): TensorData {
  const out = allocate(type, values.length);
  const bad = (i: number, why: string) =>
    new EngineInputError(`input '${name}': data[${i}] = ${JSON.stringify(values[i])} ${why}`);
  if (type === 'int64' || type === 'uint64') {
    const big = out as BigInt64Array | BigUint64Array;
    values.forEach((v, i) => {
      const ok = (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v));
      if (!ok) throw bad(i, `is not a ${type} (use an integer, or a string of digits beyond 2^53)`);
      const n = BigInt(v as number | string);
      if (BigInt.asIntN(64, n) !== n && BigInt.asUintN(64, n) !== n) throw bad(i, `is out of range for ${type}`);
      big[i] = n;
    });
    return out;
  }
  const numbers = out as Exclude<TensorData, BigInt64Array | BigUint64Array>;
  const range = INTEGER_RANGES[type];
  values.forEach((v, i) => {
    if (type === 'bool') {
      if (v !== true && v !== false && v !== 0 && v !== 1) throw bad(i, 'is not a bool (true, false, 0 or 1)');
      numbers[i] = v === true || v === 1 ? 1 : 0;
      return;
    }
    if (typeof v !== 'number') throw bad(i, 'is not a number');
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) throw bad(i, `is not a ${type}`);
    numbers[i] = v;
  });
  return out;
}

export function toJsonTensor(type: string, dims: readonly number[], data: ArrayLike<unknown>): JsonTensor {
  const values: Array<number | string | boolean> = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v === 'bigint') values[i] = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    else if (type === 'bool') values[i] = Boolean(v);
    else values[i] = v as number | string;
  }
  return { type, dims: [...dims], data: values };
}

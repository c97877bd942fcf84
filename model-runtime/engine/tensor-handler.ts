import type { Tensor } from 'onnxruntime-node';
import { BatchSession } from './batch-session';
import { EngineInputError, InvalidModelError, errorMessage } from './engine-errors';
import { Handler } from './handler';
import {
  HostTensor, JsonTensor, TensorData, allocate, elementCount, isSupportedType, parseJsonTensor, toJsonTensor, toOrtTensor,
} from './tensor-codec';
import { ModelSignature } from './tensor-spec';

export interface TensorHandlerConfig {
  /**
   * Concatenate compatible requests along dim 0 when every input and output has a dynamic dim 0
   * (Triton's max_batch_size > 0). Turn off for models whose dim 0 is not a batch axis — a
   * sequence axis, say — where concatenation would silently change the answers.
   */
  batching?: boolean;
  /** Per-request bound on the elements of one input (default 16M). */
  maxElements?: number;
}

export type TensorItem = Map<string, HostTensor>;
export type TensorOutput = Record<string, JsonTensor>;

export class TensorHandler implements Handler<TensorItem, TensorOutput> {
  readonly name = 'tensor';
  private signature: ModelSignature;

  constructor(private readonly config: TensorHandlerConfig = {}) {}

  checkSignature(signature: ModelSignature): void {
    for (const spec of [...signature.inputs, ...signature.outputs]) {
      if (!isSupportedType(spec.type)) {
        throw new InvalidModelError(`the tensor handler cannot carry '${spec.name}' of type ${spec.type}`);
      }
    }
    this.signature = signature;
  }

  async prepare(input: unknown): Promise<TensorItem> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new EngineInputError(`expected an object keyed by input name (${this.inputNames()})`);
    }
    const given = input as Record<string, unknown>;
    const unknown = Object.keys(given).filter((name) => !this.signature.inputs.some((s) => s.name === name));
    if (unknown.length) throw new EngineInputError(`unknown input ${unknown.map((n) => `'${n}'`).join(', ')}; the model takes ${this.inputNames()}`);
    const item: TensorItem = new Map();
    for (const spec of this.signature.inputs) {
      if (!(spec.name in given)) throw new EngineInputError(`missing input '${spec.name}'; the model takes ${this.inputNames()}`);
      item.set(spec.name, parseJsonTensor(given[spec.name], spec, this.config.maxElements ?? 16_777_216));
    }
    return item;
  }

  async warmupItem(signature: ModelSignature): Promise<TensorItem> {
    return new Map(
      signature.inputs.map((spec) => {
        const dims = spec.shape.map((d) => (d === -1 ? 1 : d));
        return [spec.name, { type: spec.type, dims, data: allocate(spec.type, elementCount(dims)) }];
      }),
    );
  }

  async runBatch(session: BatchSession, items: TensorItem[]): Promise<Array<TensorOutput | Error>> {
    const results: Array<TensorOutput | Error> = new Array(items.length);
    for (const group of this.groups(items)) {
      if (group.length > 1) {
        const outputs = await this.runConcatenated(session, group.map((i) => items[i]), group).catch(() => undefined);
        if (outputs) {
          group.forEach((itemIndex, k) => (results[itemIndex] = outputs[k]));
          continue;
        }
        // Fall through to single runs, so one bad request cannot fail its neighbours.
      }
      for (const itemIndex of group) {
        results[itemIndex] = await this.runSingle(session, items[itemIndex], itemIndex);
      }
    }
    return results;
  }

  private inputNames(): string {
    return this.signature.inputs.map((s) => `'${s.name}'`).join(', ');
  }

  private batchable(): boolean {
    if (this.config.batching === false) return false;
    return [...this.signature.inputs, ...this.signature.outputs].every((s) => s.shape.length > 0 && s.shape[0] === -1);
  }

  /** Items whose tensors agree on every dim but the first run together; others run alone. */
  private groups(items: TensorItem[]): number[][] {
    if (!this.batchable()) return items.map((_, i) => [i]);
    const byShape = new Map<string, number[]>();
    items.forEach((item, i) => {
      const rows = new Set([...item.values()].map((t) => t.dims[0]));
      const key = rows.size === 1 && !rows.has(0)
        ? [...item.values()].map((t) => t.dims.slice(1).join('x')).join('|')
        : `alone:${i}`;
      byShape.set(key, [...(byShape.get(key) ?? []), i]);
    });
    return [...byShape.values()];
  }

  private async runSingle(session: BatchSession, item: TensorItem, itemIndex: number): Promise<TensorOutput | Error> {
    const feeds = Object.fromEntries([...item].map(([name, t]) => [name, toOrtTensor(t)]));
    try {
      const outputs = await session.run(feeds, [itemIndex]);
      return Object.fromEntries(
        Object.entries(outputs).map(([name, t]) => [name, toJsonTensor(t.type, t.dims, t.data as ArrayLike<unknown>)]),
      );
    } catch (error) {
      return new EngineInputError(`the model rejected the input: ${errorMessage(error)}`);
    }
  }

  private async runConcatenated(session: BatchSession, items: TensorItem[], itemIndexes: number[]): Promise<TensorOutput[] | undefined> {
    const rows = items.map((item) => item.values().next().value!.dims[0]);
    const totalRows = rows.reduce((a, b) => a + b, 0);
    const feeds: Record<string, Tensor> = {};
    for (const spec of this.signature.inputs) {
      const parts = items.map((item) => item.get(spec.name)!);
      const data = allocate(spec.type, parts.reduce((n, p) => n + p.data.length, 0));
      let offset = 0;
      for (const part of parts) {
        (data as Float32Array).set(part.data as Float32Array, offset);
        offset += part.data.length;
      }
      feeds[spec.name] = toOrtTensor({ type: spec.type, dims: [totalRows, ...parts[0].dims.slice(1)], data });
    }
    const chargeTo = itemIndexes.flatMap((itemIndex, k) => Array<number>(rows[k]).fill(itemIndex));
    const outputs = await session.run(feeds, chargeTo);
    // A dynamic dim 0 that does not follow the input rows is not a batch axis: answer singly.
    if (Object.values(outputs).some((t) => t.dims[0] !== totalRows)) return undefined;
    const split: TensorOutput[] = items.map(() => ({}));
    for (const [name, tensor] of Object.entries(outputs)) {
      const rowSize = elementCount(tensor.dims.slice(1));
      let row = 0;
      items.forEach((_, k) => {
        const data = (tensor.data as TensorData).subarray(row * rowSize, (row + rows[k]) * rowSize);
        split[k][name] = toJsonTensor(tensor.type, [rows[k], ...tensor.dims.slice(1)], data);
        row += rows[k];
      });
    }
    return split;
  }
}

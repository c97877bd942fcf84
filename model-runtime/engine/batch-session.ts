import type { InferenceSession } from 'onnxruntime-node';
import { ModelSignature } from './tensor-spec';

type Feeds = InferenceSession.FeedsType;
type Results = InferenceSession.ReturnType;

/**
 * What a handler runs one batch through. Every session.run is timed and its wall time charged to
 * the items it served, so a caller is billed for its share of device time even when a handler
 * mixes per-item runs (OCR detection) with runs shared across items (recognition, VAD windows).
 */
export class BatchSession {
  readonly deviceSeconds: Float64Array;
  /** Per item: the most items that shared one session.run with it. */
  readonly batchSizes: Int32Array;

  constructor(
    readonly session: InferenceSession,
    readonly signature: ModelSignature,
    readonly itemCount: number,
  ) {
    this.deviceSeconds = new Float64Array(itemCount);
    this.batchSizes = new Int32Array(itemCount);
  }

  /**
   * Runs the primary model. `chargeTo` lists, for each row of the run, the item it belongs to
   * (repeats weight an item by its rows); by default the run is shared by every item.
   */
  run(feeds: Feeds, chargeTo?: readonly number[]): Promise<Results> {
    return this.runOn(this.session, feeds, chargeTo);
  }

  /** Runs an auxiliary session the handler owns (OCR recognition), with the same accounting. */
  async runOn(session: InferenceSession, feeds: Feeds, chargeTo?: readonly number[]): Promise<Results> {
    const rows = chargeTo ?? [...Array(this.itemCount).keys()];
    const started = process.hrtime.bigint();
    const results = await session.run(feeds);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const distinct = new Set(rows).size;
    for (const item of rows) {
      this.deviceSeconds[item] += seconds / rows.length;
      this.batchSizes[item] = Math.max(this.batchSizes[item], distinct);
    }
    return results;
  }
}

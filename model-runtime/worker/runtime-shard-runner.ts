// The worker's ShardRunner over the InferenceRuntime. Items run with isolated failures: a bad
// item gets its own error and the rest of the micro-batch still gets outputs. An endpoint not
// loaded in this process (a fresh worker in split mode, or one not in line to serve the
// endpoint's sync calls) is deployed on first use, and kept while shards use it.
import type { EntityManager } from 'typeorm';
import type { BlobStore } from '../../tenants/blob-store/blob-store';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { EndpointDeployer } from '../runtime/endpoint-deployer';
import type { InferenceRuntime } from '../runtime/inference-runtime';
import type { ItemOutcome, ShardRunner } from './shard-runner';

const MAX_ITEM_BYTES = 256 * 1024 * 1024;

export class RuntimeShardRunner implements ShardRunner {
  private readonly batchSizes = new Map<string, number>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly runtime: InferenceRuntime,
    private readonly deployer: EndpointDeployer,
  ) {}

  async batchSize(endpointId: string): Promise<number> {
    const known = this.batchSizes.get(endpointId);
    if (known) return known;
    const [row]: { max_batch_size: number }[] = await this.db.withSystem('read an endpoint’s batch size for a shard', (em) =>
      em.query(`SELECT max_batch_size FROM endpoint WHERE id = $1`, [endpointId]));
    const size = row?.max_batch_size ?? 8;
    this.batchSizes.set(endpointId, size);
    return size;
  }

  async run(endpointId: string, inputs: unknown[]): Promise<{ outcomes: ItemOutcome[]; deviceSeconds: number }> {
    this.deployer.usedByShard(endpointId);
    let result;
    try {
      result = await this.runtime.infer(endpointId, inputs, { isolateFailures: true });
    } catch (err) {
      if ((err as { code?: string }).code !== 'STOPPED') throw err;
      const outcome = await this.deployer.deploy(endpointId);
      if (outcome.status !== 'READY') throw new Error(`endpoint is ${outcome.status}${outcome.failureReason ? `: ${outcome.failureReason}` : ''}`);
      result = await this.runtime.infer(endpointId, inputs, { isolateFailures: true });
    }
    return {
      outcomes: result.items.map((i) => (i.error ? { error: i.error.message } : { output: i.output })),
      deviceSeconds: result.deviceSeconds,
    };
  }
}

/**
 * A dataset item as a handler input (contract: an item feeds a job as its text or its blob, plus
 * its metadata): the metadata's fields, then `text` for text items, `bytes` for blob items (what
 * the image and audio handlers read).
 */
export function datasetItemInput(store: BlobStore) {
  return async (em: EntityManager, item: { text: string | null; blob_id: string | null; metadata: unknown }): Promise<unknown> => {
    const meta = item.metadata && typeof item.metadata === 'object' && !Array.isArray(item.metadata) ? (item.metadata as Record<string, unknown>) : {};
    if (!item.blob_id) return { ...meta, text: item.text };
    const [blob]: { sha256: string; size: string }[] = await em.query(`SELECT sha256, size FROM blob WHERE id = $1`, [item.blob_id]);
    if (!blob) return { ...meta, missing: 'the item’s blob no longer exists' };
    if (Number(blob.size) > MAX_ITEM_BYTES) return { ...meta, missing: 'the item’s blob is too large to run' };
    const stream = await store.get(blob.sha256);
    if (!stream) return { ...meta, missing: 'the item’s bytes are missing from the blob store' };
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { ...meta, bytes: new Uint8Array(Buffer.concat(chunks)) };
  };
}

// The contract's demo model catalogue (contract/README.md, Demo data): PaddleOCR v4 Chinese and
// Silero VAD, owned by casia, ALLIANCE-visible, each with a READY endpoint of the same name. The
// files ship in npm packages (no download at run time); seeding copies them into the blob store
// as casia's uploads, so they are ordinary model versions from then on — listed, downloadable,
// deployable again, and loaded by the runtime from the blob store like any member's model.
// Idempotent: a model that exists already is left alone (an operator may have changed it).
import fs from 'node:fs';
import type { InferenceRuntime } from '../../model-runtime/runtime/inference-runtime';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { BlobsService } from '../blobs/blobs.service';

/**
 * The engine knows where its demo files are, but loading it loads ONNX Runtime: required only
 * when a file is asked for (seeding, all-in-one), so a split-mode API process that imports this
 * catalogue never loads it.
 */
function demoModelPaths(): { vad: string; ocrDetection: string } {
  const engine = require('../../model-runtime/engine') as typeof import('../../model-runtime/engine');
  return engine.demoModelPaths();
}

export interface DemoModel {
  owner: string;
  name: string;
  task: string;
  modality: 'IMAGE' | 'AUDIO';
  handler: string;
  description: string;
  license: string;
  file: () => string;
  endpoint: { maxBatchSize: number; maxQueueDelayMs: number };
}

export const DEMO_MODELS: DemoModel[] = [
  {
    owner: 'casia',
    name: 'paddleocr-ch',
    task: 'ocr',
    modality: 'IMAGE',
    handler: 'ocr',
    description: 'PP-OCRv4 Chinese text detection and recognition (PaddleOCR). Input: a PNG or JPEG image; ' +
      'output: text lines in reading order with scores and boxes.',
    license: 'Apache-2.0',
    file: () => demoModelPaths().ocrDetection,
    // Detection runs per image and batching convolutions gains little on CPU: no waiting for
    // companions, requests that queue while a batch runs still go together.
    endpoint: { maxBatchSize: 4, maxQueueDelayMs: 0 },
  },
  {
    owner: 'casia',
    name: 'silero-vad',
    task: 'voice-activity-detection',
    modality: 'AUDIO',
    handler: 'vad',
    description: 'Silero VAD v4 voice activity detection. Input: a WAV file (any rate and channel count, ' +
      'resampled to 16 kHz mono); output: speech segments in seconds.',
    license: 'MIT',
    file: () => demoModelPaths().vad,
    // The tiny recurrent model is dominated by per-run overhead: clips batch well.
    endpoint: { maxBatchSize: 32, maxQueueDelayMs: 2 },
  },
];

/** Registers the demo models that are missing; returns their names. Endpoints start DEPLOYING. */
export async function seedDemoModels(db: TenantDatabase, blobs: BlobsService, runtime: InferenceRuntime): Promise<string[]> {
  const seeded: string[] = [];
  for (const demo of DEMO_MODELS) {
    const [state]: { tenant_id: string; model_id: string | null }[] = await db.withSystem('demo catalogue: is this model seeded', (em) =>
      em.query(`SELECT t.id AS tenant_id, m.id AS model_id FROM tenant t LEFT JOIN model m ON m.tenant_id = t.id AND m.name = $2
                 WHERE t.slug = $1`, [demo.owner, demo.name]));
    if (!state || state.model_id) continue;
    const path = demo.file();
    const blob = await blobs.storeForTenant(state.tenant_id, fs.createReadStream(path), 'application/octet-stream',
      'seed the demo model files of all-in-one mode');
    const signature = await runtime.inspect(await fs.promises.readFile(path), demo.handler, {});
    const created = await db.withSystem('seed the demo model catalogue of all-in-one mode', async (em) => {
      const [model]: { id: string }[] = await em.query(
        `INSERT INTO model (tenant_id, name, task, modality, visibility, description, license, last_version)
         VALUES ($1, $2, $3, $4, 'ALLIANCE', $5, $6, 1) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id`,
        [state.tenant_id, demo.name, demo.task, demo.modality, demo.description, demo.license]);
      if (!model) return false;
      const [version]: { id: string }[] = await em.query(
        `INSERT INTO model_version (model_id, tenant_id, version, blob_id, sha256, size_bytes, handler, inputs, outputs)
         VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8) RETURNING id`,
        [model.id, state.tenant_id, blob.uuid, blob.sha256, blob.size, demo.handler,
          JSON.stringify(signature.inputs), JSON.stringify(signature.outputs)]);
      await em.query(
        `INSERT INTO endpoint (tenant_id, name, model_id, model_version_id, max_batch_size, max_queue_delay_ms)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [state.tenant_id, demo.name, model.id, version.id, demo.endpoint.maxBatchSize, demo.endpoint.maxQueueDelayMs]);
      await em.query(
        `INSERT INTO audit_event (tenant_id, action, target_type, target_id, details) VALUES ($1, 'model.seed', 'Model', $2, $3)`,
        [state.tenant_id, model.id, JSON.stringify({ name: demo.name, handler: demo.handler, sha256: blob.sha256 })]);
      return true;
    });
    if (created) seeded.push(demo.name);
  }
  return seeded;
}

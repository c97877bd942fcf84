// Validation of dataset items as they arrive in createDatasetVersion / addDatasetItems: pure,
// all-or-nothing, and every message names the offending item's index so a client can fix a
// file of thousands of lines.
import { AppError } from '../../core/app-error';
import { parseGlobalId } from '../../core/global-id';
import type { DatasetItemInput } from './datasets.types';

/** Items per call: enough for a folder in one go, small enough for one request body. */
export const MAX_ITEMS_PER_CALL = 10_000;
export const MAX_TEXT_LENGTH = 100_000;
export const MAX_METADATA_BYTES = 16 * 1024;

export interface ParsedItem {
  /** Index in the call's `items` list (0-based). */
  index: number;
  text: string | null;
  /** uuid of the blob. */
  blobId: string | null;
  /** Any JSON value, or null. */
  metadata: unknown;
}

export function parseItems(items: readonly DatasetItemInput[]): ParsedItem[] {
  if (items.length === 0) throw AppError.badInput('items is empty: a dataset version needs at least one item');
  if (items.length > MAX_ITEMS_PER_CALL) {
    throw AppError.badInput(`items has ${items.length} entries; send at most ${MAX_ITEMS_PER_CALL} per call ` +
      '(create the version with the first batch, then addDatasetItems for the rest)');
  }
  return items.map((item, index) => parseItem(item, index));
}

function parseItem(item: DatasetItemInput, index: number): ParsedItem {
  const text = item.text ?? null;
  const blobGlobalId = item.blobId ?? null;
  if ((text === null || text === '') && blobGlobalId === null) {
    throw AppError.badInput(`items[${index}] has neither text nor blobId; every item needs at least one of them`, { index });
  }
  if (text !== null && text.length > MAX_TEXT_LENGTH) {
    throw AppError.badInput(`items[${index}].text has ${text.length} characters; the limit is ${MAX_TEXT_LENGTH}`, { index });
  }
  let blobId: string | null = null;
  if (blobGlobalId !== null) {
    const parsed = parseGlobalId(blobGlobalId);
    if (!parsed || parsed.type !== 'Blob') {
      throw AppError.badInput(`items[${index}].blobId "${String(blobGlobalId).slice(0, 60)}" is not a Blob id ` +
        '(upload the file with POST /v1/blobs and use the id it answers)', { index });
    }
    blobId = parsed.id;
  }
  const metadata = item.metadata ?? null;
  if (metadata !== null && Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) {
    throw AppError.badInput(`items[${index}].metadata is larger than ${MAX_METADATA_BYTES} bytes of JSON`, { index });
  }
  return { index, text: text === '' ? null : text, blobId, metadata };
}

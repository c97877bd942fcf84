import { AppError, ErrorCode } from '../../core/app-error';
import { toGlobalId } from '../../core/global-id';
import { MAX_ITEMS_PER_CALL, MAX_METADATA_BYTES, MAX_TEXT_LENGTH, parseItems } from './dataset-items';

const BLOB = '3f1c9a52-4a5e-4c1e-9d3a-0a1b2c3d4e5f';

function refusal(items: unknown[]): AppError {
  try {
    parseItems(items as never);
  } catch (err) {
    return err as AppError;
  }
  throw new Error('expected a refusal');
}

it('parses texts, blob ids and metadata, keeping each item\'s index', () => {
  expect(parseItems([
    { text: 'a' },
    { blobId: toGlobalId('Blob', BLOB), metadata: { k: [1, 2] } },
    { text: '', blobId: toGlobalId('Blob', BLOB), metadata: null },
  ])).toEqual([
    { index: 0, text: 'a', blobId: null, metadata: null },
    { index: 1, text: null, blobId: BLOB, metadata: { k: [1, 2] } },
    { index: 2, text: null, blobId: BLOB, metadata: null },
  ]);
});

it.each([
  ['an empty list', [], /empty/],
  ['an item with nothing', [{ text: 'ok' }, {}], /items\[1\] has neither text nor blobId/],
  ['an empty text alone', [{ text: '' }], /items\[0\]/],
  ['a malformed blob id', [{ blobId: 'nope' }], /items\[0\]\.blobId "nope" is not a Blob id/],
  ['an id of another type', [{ blobId: toGlobalId('Dataset', BLOB) }], /not a Blob id/],
  ['an oversized text', [{ text: 'x'.repeat(MAX_TEXT_LENGTH + 1) }], /items\[0\]\.text/],
  ['oversized metadata', [{ text: 'x', metadata: { big: 'y'.repeat(MAX_METADATA_BYTES) } }], /items\[0\]\.metadata/],
  ['too many items', Array.from({ length: MAX_ITEMS_PER_CALL + 1 }, () => ({ text: 'x' })), /at most/],
])('refuses %s with BAD_USER_INPUT naming the item', (_name, items, message) => {
  const err = refusal(items);
  expect(err.code).toBe(ErrorCode.BAD_USER_INPUT);
  expect(err.message).toMatch(message);
});

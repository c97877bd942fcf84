// The contract's inline media form, `{ imageBase64 | audioBase64: "…" }`, and its decoding. Apart
// from media-input.ts (which loads sharp) because the API's side of the engine thread decodes
// too: threaded-runtime.ts turns the text into bytes before the hop and moves them across,
// instead of copying a 430 KB string into the thread's heap for the thread to decode it there.
import type { HandlerName } from './handler-registry';

export type MediaBase64Field = 'imageBase64' | 'audioBase64';

/** The field each media handler reads its inline input from (tensor inputs are not media). */
export const MEDIA_BASE64_FIELD: Readonly<Partial<Record<HandlerName, MediaBase64Field>>> = {
  ocr: 'imageBase64',
  'image-classification': 'imageBase64',
  vad: 'audioBase64',
};

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;
const DATA_URL_PREFIX = /^data:[^,]*;base64,/;

/**
 * The bytes of base64 text (whitespace and a `data:…;base64,` prefix allowed), or undefined when
 * it is not base64. Node's decoder would skip stray characters silently, hence the check first.
 */
export function decodeBase64(text: string): Buffer | undefined {
  const body = text.replace(DATA_URL_PREFIX, '');
  return BASE64.test(body) ? Buffer.from(body, 'base64') : undefined;
}

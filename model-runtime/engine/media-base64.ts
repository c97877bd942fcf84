// The contract's inline media form, `{ imageBase64 | audioBase64: "…" }`, and its decoding. Apart
// from media-input.ts (which loads sharp) because the API's side of the engine thread decodes
// too: threaded-runtime.ts turns the text into bytes before the hop and moves them across,
// instead of copying a 430 KB string into the thread's heap for the thread to decode it there.
import type { HandlerName } from './handler-registry';

export type MediaBase64Field = 'imageBase64' | 'audioBase64';

/** The field each media handler reads its inline input from (tensor inputs are not media). */
export const MEDIA_BASE64_FIELD = {
  ocr: 'imageBase64',
  'image-classification': 'imageBase64',
  vad: 'audioBase64',
} as const satisfies Partial<Record<HandlerName, MediaBase64Field>>;

/** The field a handler (by name) reads inline media from; undefined for handlers of tensors. */
export function mediaFieldOf(handler: string | undefined): MediaBase64Field | undefined {
  return (MEDIA_BASE64_FIELD as Partial<Record<string, MediaBase64Field>>)[handler ?? ''];
}

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

// The character classes below include \s although whitespace is refused separately: on the
// reference machine V8 matched [A-Za-z0-9+/\s] ten times faster than [A-Za-z0-9+/] (0.24 ms
// against 2.4 ms for a 10-second clip), and the whitespace bytes are found by memchr instead.
const INNER = /^[A-Za-z0-9+/\s]*$/;
const LAST = /^[A-Za-z0-9+/\s]*={0,2}$/;
const WHITESPACE = [0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c];
const EQUALS = 0x3d;
/** Characters per slice: a multiple of 4, so every slice but the last decodes to whole bytes. */
const SLICE_CHARS = 32 * 1024;

/**
 * Plain base64 in bytes[start, end) — digits, then at most two `=`, no whitespace — decoded in
 * slices small enough for V8's young generation (no string the size of the whole text is made),
 * into memory of its own; undefined for anything else.
 */
export function decodePlainBase64(bytes: Buffer, start: number, end: number): Uint8Array | undefined {
  for (const space of WHITESPACE) {
    const at = bytes.indexOf(space, start);
    if (at !== -1 && at < end) return undefined;
  }
  const padding = bytes[end - 1] === EQUALS ? (bytes[end - 2] === EQUALS ? 2 : 1) : 0;
  const out = Buffer.allocUnsafeSlow(Math.floor(((end - start - padding) * 3) / 4));
  let written = 0;
  for (let at = start; at < end; at += SLICE_CHARS) {
    const last = at + SLICE_CHARS >= end;
    const slice = bytes.toString('latin1', at, last ? end : at + SLICE_CHARS);
    if (!(last ? LAST : INNER).test(slice)) return undefined;
    written += out.write(slice, written, 'base64');
  }
  return written === out.length ? new Uint8Array(out.buffer, out.byteOffset, written) : undefined;
}

// A large base64 media value of an `infer` call, still in the request body it arrived in
// (api/graphql/json-body.ts puts it where the JSON had the string). Turning 430 KB of body into
// a JavaScript string, parsing it, and decoding that string cost ≈ 4 ms per 10-second clip on the
// benchmark's machine, nearly all of it in fresh memory (a new page costs ≈ 11 µs there, and
// every string that size is new pages). Here the bytes are decoded straight from the body
// (media-base64.ts, decodePlainBase64).
//
// Only InferenceService sees these, and it turns each into bytes for the engine or, where the
// endpoint's handler does not read that field, back into the exact text that was sent.

import { decodePlainBase64 } from '../../model-runtime/engine/media-base64';

export class InlineMedia {
  constructor(
    private readonly body: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** The value exactly as sent (the body holds it unescaped: json-body.ts takes no other). */
  text(): string {
    return this.body.toString('utf8', this.start, this.end);
  }

  /**
   * The decoded bytes, in memory of their own (a transfer to the engine's thread moves them), or
   * undefined unless the text is plain padded-or-unpadded base64 — anything else (whitespace, a
   * data: URL, a stray character) goes to the engine as text and is answered exactly as before.
   */
  bytes(): Uint8Array | undefined {
    return decodePlainBase64(this.body, this.start, this.end);
  }

  /** Anything that serialises the inputs (a log line, a worker hop) sees the text. */
  toJSON(): string {
    return this.text();
  }
}

// A large base64 media value of an `infer` call, still in the request body it arrived in
// (api/graphql/json-body.ts puts it where the JSON had the string). Turning 430 KB of body into
// a JavaScript string, parsing it, and decoding that string cost ≈ 4 ms per 10-second clip on the
// benchmark's machine, nearly all of it in fresh memory (a new page costs ≈ 11 µs there, and
// every string that size is new pages). Here the bytes are decoded straight from the body, in
// slices small enough to reuse V8's young generation.
//
// Only InferenceService sees these, and it turns each into bytes for the engine or, where the
// endpoint's handler does not read that field, back into the exact text that was sent.

const SLICE_CHARS = 32 * 1024; // a multiple of 4: every slice but the last decodes to whole bytes
const INNER = /^[A-Za-z0-9+/]*$/;
const LAST = /^[A-Za-z0-9+/]*={0,2}$/;

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
    const EQUALS = 0x3d;
    const padding = this.body[this.end - 1] === EQUALS ? (this.body[this.end - 2] === EQUALS ? 2 : 1) : 0;
    const out = Buffer.allocUnsafeSlow(Math.floor(((this.end - this.start - padding) * 3) / 4));
    let written = 0;
    for (let at = this.start; at < this.end; at += SLICE_CHARS) {
      const last = at + SLICE_CHARS >= this.end;
      const slice = this.body.toString('latin1', at, Math.min(at + SLICE_CHARS, this.end));
      if (!(last ? LAST : INNER).test(slice)) return undefined;
      written += out.write(slice, written, 'base64');
    }
    return written === out.length ? new Uint8Array(out.buffer, out.byteOffset, written) : undefined;
  }

  /** Anything that serialises the inputs (a log line, a worker hop) sees the text. */
  toJSON(): string {
    return this.text();
  }
}

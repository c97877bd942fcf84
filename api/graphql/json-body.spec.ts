// The /graphql body parser: large media values of `infer` come out as InlineMedia, everything
// else exactly as JSON.parse gives it.
import { randomBytes } from 'node:crypto';
import { InlineMedia } from '../../resolvers/endpoints/inline-media';
import { MIN_INLINE_MEDIA_CHARS, parseJson } from './json-body';

const INFER = 'mutation Infer($id: ID!, $inputs: [JSON!]!) { infer(endpointId: $id, inputs: $inputs) { outputs } }';
const clip = randomBytes(Math.ceil((MIN_INLINE_MEDIA_CHARS * 3) / 4) + 1001); // a length that needs padding
const base64 = clip.toString('base64');
const body = (value: unknown) => Buffer.from(JSON.stringify(value));

it('leaves small bodies and bodies without large media to JSON.parse', () => {
  const small = { query: INFER, variables: { id: 'x', inputs: [{ audioBase64: 'UklGRg==' }] } };
  expect(parseJson(body(small))).toEqual(small);
  const numbers = { query: INFER, variables: { id: 'x', inputs: [{ x: { data: Array.from({ length: 30_000 }, (_, i) => i) } }] } };
  expect(parseJson(body(numbers))).toEqual(numbers);
});

it("cuts an infer input's large base64 out of the body: the same bytes and the same text, no string in between", () => {
  const parsed = parseJson(body({ query: INFER, variables: { id: 'x', inputs: [{ audioBase64: base64, sampleRate: 16000 }, { imageBase64: base64 }] } })) as any;
  const [audio, image] = parsed.variables.inputs;
  expect(audio.audioBase64).toBeInstanceOf(InlineMedia);
  expect(audio.sampleRate).toBe(16000);
  expect(Buffer.from(audio.audioBase64.bytes()).equals(clip)).toBe(true);
  expect(audio.audioBase64.text()).toBe(base64);
  expect(JSON.stringify(audio)).toBe(JSON.stringify({ audioBase64: base64, sampleRate: 16000 }));
  expect(Buffer.from(image.imageBase64.bytes()).equals(clip)).toBe(true);
  // The bytes own their memory exactly, so a transfer to the engine's thread can move them.
  const bytes = audio.audioBase64.bytes();
  expect([bytes.byteOffset, bytes.buffer.byteLength]).toEqual([0, clip.length]);
  // One input where a list is expected is a list of one (GraphQL input coercion), and
  // whitespace around the JSON and the key is JSON's.
  const single = parseJson(Buffer.from(`\uFEFF {"query": ${JSON.stringify(INFER)}, "variables": {"id": "x", "inputs": {"audioBase64" :\n "${base64}"}}}\n`)) as any;
  expect(single.variables.inputs.audioBase64).toBeInstanceOf(InlineMedia);
});

it('gives every other large value back as the exact string that was sent', () => {
  const expectStrings = (request: Record<string, unknown>) => {
    const parsed = parseJson(body(request));
    expect(parsed).toEqual(request); // toEqual fails on an InlineMedia where a string was
  };
  const metadata = { audioBase64: base64, note: '中文' };
  // Not an infer operation: a dataset item's metadata under the same key.
  expectStrings({ query: 'mutation($input: CreateDatasetVersionInput!) { createDatasetVersion(input: $input) { id } }',
    variables: { input: { datasetId: 'd', items: [{ text: 't', metadata }] } } });
  // An infer operation, but the value is not in infer's inputs variable.
  expectStrings({ query: INFER, variables: { id: 'x', inputs: [{ x: 1 }], other: [{ audioBase64: base64 }] } });
  // The inputs variable is also used by another field.
  expectStrings({ query: 'mutation($id: ID!, $i: [JSON!]!) { infer(endpointId: $id, inputs: $i) { outputs } submitJob(input: { endpointId: $id, inputs: $i }) { id } }',
    variables: { id: 'x', i: [{ audioBase64: base64 }] } });
  // operationName picks an operation other than infer.
  expectStrings({ query: `${INFER} mutation Other($inputs: [JSON!]!) { noop(inputs: $inputs) }`, operationName: 'Other',
    variables: { id: 'x', inputs: [{ audioBase64: base64 }] } });
  // A query that does not parse (Apollo reports it), and a batch of operations.
  expectStrings({ query: 'mutation {', variables: { inputs: [{ audioBase64: base64 }] } });
  const batch = [{ query: INFER, variables: { id: 'x', inputs: [{ audioBase64: base64 }] } }];
  expect(parseJson(body(batch))).toEqual(batch);
  // Another key, and a media key whose value has escapes (`\/` is valid JSON for `/`).
  expectStrings({ query: INFER, variables: { id: 'x', inputs: [{ textBase64: base64 }] } });
  const escaped = `{"query":${JSON.stringify(INFER)},"variables":{"id":"x","inputs":[{"audioBase64":"${base64.replace(/\//g, '\\/')}"}]}}`;
  expect((parseJson(Buffer.from(escaped)) as any).variables.inputs[0].audioBase64).toBe(base64);
});

it('decodes only plain base64: anything else reaches the engine as the text that was sent', () => {
  const damaged = `${base64.slice(0, 40_000)}!${base64.slice(40_001)}`;
  const withDataUrl = `data:audio/wav;base64,${base64}`;
  const parsed = parseJson(body({ query: INFER, variables: { id: 'x', inputs: [{ audioBase64: damaged }, { audioBase64: withDataUrl }] } })) as any;
  for (const [input, text] of [[parsed.variables.inputs[0], damaged], [parsed.variables.inputs[1], withDataUrl]]) {
    expect(input.audioBase64.bytes()).toBeUndefined();
    expect(input.audioBase64.text()).toBe(text);
  }
});

it("keeps express.json's answers: not JSON, not an object, empty", () => {
  const infer = JSON.stringify({ query: INFER, variables: { id: 'x', inputs: [{ audioBase64: base64 }] } });
  expect(() => parseJson(Buffer.from(infer.slice(0, -1)))).toThrow(SyntaxError);
  expect(() => parseJson(Buffer.from(infer.replace(`"${base64}"`, `"${base64}`)))).toThrow(SyntaxError);
  expect(() => parseJson(Buffer.from('"just a string"'))).toThrow(SyntaxError);
  expect(parseJson(Buffer.alloc(0))).toEqual({});
});

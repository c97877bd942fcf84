import { liftBytes, presentsSecret, restoreBytes } from './inference-wire';

const roundTrip = (inputs: unknown[]) => {
  const lifted = liftBytes(inputs);
  const wire = JSON.parse(JSON.stringify(lifted)) as typeof lifted;
  return { lifted, restored: restoreBytes(wire.inputs, wire.binary) };
};

describe('liftBytes / restoreBytes', () => {
  it('carries resolved bytes as bytes and everything else as the JSON it was', () => {
    const audio = new Uint8Array([0, 1, 2, 250, 255]);
    const inputs = [
      { audioBase64: 'AAEC', minSpeechMs: 250 },
      { bytes: audio, label: 'clip' },
      { x: { type: 'float32', dims: [1, 3], data: [1, 2, 3] }, nested: [{ bytes: Buffer.from('hi') }] },
    ];
    const { lifted, restored } = roundTrip(inputs);
    expect(lifted.binary.map((b) => b.path)).toEqual([[1, 'bytes'], [2, 'nested', 0, 'bytes']]);
    expect(restored[0]).toEqual(inputs[0]);
    const second = restored[1] as { bytes: Uint8Array; label: string };
    expect(second.bytes).toBeInstanceOf(Uint8Array);
    expect([...second.bytes]).toEqual([...audio]);
    expect(second.label).toBe('clip');
    expect(Buffer.from((restored[2] as any).nested[0].bytes).toString()).toBe('hi');
    // The caller's inputs are not modified, and untouched parts are shared, not copied.
    expect(inputs[1].bytes).toBe(audio);
    expect((lifted.inputs[2] as any).x).toBe((inputs[2] as any).x);
    expect(lifted.inputs[0]).toBe(inputs[0]);
  });

  it('never turns what a member sent into bytes, whatever it looks like', () => {
    const inputs = [{ bytes: 'AAEC' }, { $bytes: 'AAEC' }, { bytes: { 0: 1, 1: 2 } }];
    const { lifted, restored } = roundTrip(inputs);
    expect(lifted.binary).toEqual([]);
    expect(restored).toEqual(inputs);
  });

  it('refuses paths that leave the inputs or reach a prototype', () => {
    const parsed = () => JSON.parse('[{"bytes":null}]') as unknown[];
    expect(() => restoreBytes(parsed(), [{ path: [0, '__proto__'], base64: 'AA==' }])).toThrow(/leaves the inputs/);
    expect(() => restoreBytes(parsed(), [{ path: [1, 'bytes'], base64: 'AA==' }])).toThrow(/leaves the inputs/);
    expect(() => restoreBytes(parsed(), [{ path: [0, 'constructor', 'prototype'], base64: 'AA==' }])).toThrow(/leaves the inputs/);
    expect(() => restoreBytes(parsed(), [{ path: [], base64: 'AA==' }])).toThrow(/malformed/);
    expect(({} as Record<string, unknown>).bytes).toBeUndefined();
  });
});

describe('presentsSecret', () => {
  it('accepts exactly the bearer secret', () => {
    expect(presentsSecret('Bearer s3cret-s3cret-s3cret', 's3cret-s3cret-s3cret')).toBe(true);
    expect(presentsSecret('Bearer s3cret-s3cret-s3creT', 's3cret-s3cret-s3cret')).toBe(false);
    expect(presentsSecret('s3cret-s3cret-s3cret', 's3cret-s3cret-s3cret')).toBe(false);
    expect(presentsSecret(undefined, 's3cret-s3cret-s3cret')).toBe(false);
  });
});

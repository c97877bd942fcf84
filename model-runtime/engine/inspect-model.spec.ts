import { readFileSync } from 'node:fs';
import { InvalidModelError, demoModelPaths, inspectModel } from './index';
import { resolveExecutionProviders } from './execution-providers';
import { scaleModel } from './__fixtures__/tiny-models';

describe('inspectModel', () => {
  it('records the Silero VAD signature with -1 for symbolic dimensions', async () => {
    const signature = await inspectModel(readFileSync(demoModelPaths().vad));
    expect(signature.inputs).toEqual([
      { name: 'input', type: 'float32', shape: [-1, -1] },
      { name: 'sr', type: 'int64', shape: [] },
      { name: 'h', type: 'float32', shape: [2, -1, 64] },
      { name: 'c', type: 'float32', shape: [2, -1, 64] },
    ]);
    expect(signature.outputs.map((o) => o.name)).toEqual(['output', 'hn', 'cn']);
  });

  it('refuses random bytes, a truncated model and an empty file with InvalidModelError', async () => {
    let seed = 42;
    const random = Uint8Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff);
    const model = readFileSync(demoModelPaths().vad);
    const truncated = model.subarray(0, Math.floor(model.length / 2));
    for (const bytes of [random, truncated, new Uint8Array(0)]) {
      const error = await inspectModel(bytes).catch((e) => e);
      expect(error).toBeInstanceOf(InvalidModelError);
      expect(error.code).toBe('INVALID_MODEL');
    }
  });

  it('falls back to CPU with a warning when an execution provider is unavailable', async () => {
    const warnings: string[] = [];
    const providers = await resolveExecutionProviders({ executionProviders: ['cuda', 'cpu'], onWarning: (m) => warnings.push(m) });
    // CUDA libraries never come from npm, so on these machines 'cuda' must be dropped.
    expect(providers).toEqual(['cpu']);
    expect(warnings.join()).toMatch(/cuda.*unavailable/);
    const signature = await inspectModel(scaleModel(2), { executionProviders: ['cuda'], onWarning: () => undefined });
    expect(signature.inputs[0]).toEqual({ name: 'x', type: 'float32', shape: [-1, 3] });
  });
});

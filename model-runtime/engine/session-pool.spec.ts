import { ModelEngine, SessionPool, demoModelPaths } from './index';
import { floatTensor, scaleModel } from './__fixtures__/tiny-models';

const input = [{ x: floatTensor([1, 3], [1, 2, 3]) }];
const scaled = (k: number) => [{ y: { type: 'float32', dims: [1, 3], data: [k, 2 * k, 3 * k] } }];

describe('SessionPool', () => {
  it('evicts the least recently used session and reloads it on demand (maxSessions 1)', async () => {
    const engine = new ModelEngine({ maxSessions: 1, intraOpNumThreads: 1 });
    try {
      await engine.deploy('double', { modelBytes: scaleModel(2), handler: 'tensor' });
      await engine.deploy('triple', { modelBytes: scaleModel(3), handler: 'tensor' });
      expect(engine.stats()).toMatchObject({ loads: 2, evictions: 1, loadedSessions: 1 });
      for (let round = 0; round < 2; round++) {
        expect((await engine.infer('double', input)).outputs).toEqual(scaled(2));
        expect((await engine.infer('triple', input)).outputs).toEqual(scaled(3));
      }
      expect(engine.stats()).toMatchObject({ loads: 6, reloads: 4, evictions: 5, loadedSessions: 1, registeredModels: 2 });
      // Each reload warms the session again and keeps a per-item measurement.
      expect(engine.perItemDeviceSeconds('double')).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  });

  it('shares one session between endpoints serving the same file and counts hits', async () => {
    const engine = new ModelEngine({ intraOpNumThreads: 1 });
    try {
      const first = await engine.deploy('a', { modelBytes: scaleModel(7), handler: 'tensor' });
      const second = await engine.deploy('b', { modelBytes: scaleModel(7), handler: 'tensor' });
      expect(second.modelKey).toBe(first.modelKey);
      await engine.infer('a', input);
      await engine.infer('b', input);
      expect(engine.stats()).toMatchObject({ loads: 1, loadedSessions: 1, registeredModels: 1 });
      expect(engine.stats().hits).toBeGreaterThanOrEqual(3);
      await engine.undeploy('a');
      expect((await engine.infer('b', input)).outputs).toEqual(scaled(7));
      await engine.undeploy('b');
      expect(engine.stats()).toMatchObject({ loadedSessions: 0, registeredModels: 0 });
    } finally {
      await engine.close();
    }
  });

  it('gives a model registered with other session settings a session of its own', async () => {
    const pool = new SessionPool({ intraOpNumThreads: 2 });
    try {
      const model = { bytes: scaleModel(5) };
      const runtimeDefault = await pool.register(model);
      const single = await pool.register(model, undefined, { intraOpNumThreads: 1 });
      const singleAgain = await pool.register(model, undefined, { intraOpNumThreads: 1 });
      expect(single.key).not.toBe(runtimeDefault.key);
      expect(singleAgain.key).toBe(single.key);
      expect(pool.stats()).toMatchObject({ loads: 2, loadedSessions: 2, registeredModels: 2 });
    } finally {
      await pool.close();
    }
  });

  it('runs the VAD handler on sessions of one intra-op thread, whatever the runtime default', async () => {
    const engine = new ModelEngine({ intraOpNumThreads: 2 });
    try {
      const vad = await engine.deploy('vad', { modelPath: demoModelPaths().vad, handler: 'vad' });
      const tensor = await engine.deploy('tensor', { modelBytes: scaleModel(2), handler: 'tensor' });
      expect(vad.modelKey).toMatch(/:threads=1$/);
      expect(tensor.modelKey).not.toMatch(/threads/);
    } finally {
      await engine.close();
    }
  });

  it('keeps within a byte budget and never evicts a session a batch is using', async () => {
    const size = scaleModel(2).length;
    const engine = new ModelEngine({ maxBytes: size, intraOpNumThreads: 1 });
    try {
      await engine.deploy('double', { modelBytes: scaleModel(2), handler: 'tensor' });
      await engine.deploy('triple', { modelBytes: scaleModel(3), handler: 'tensor' });
      // Both models run at once: the pool overshoots its budget rather than pulling a session
      // from under a running batch, and trims back once they are idle.
      const results = await Promise.all([...Array(6).keys()].map((i) => engine.infer(i % 2 ? 'triple' : 'double', input)));
      results.forEach((r, i) => expect(r.outputs).toEqual(scaled(i % 2 ? 3 : 2)));
      expect(engine.stats().loadedBytes).toBeLessThanOrEqual(size);
      expect(engine.stats().loadedSessions).toBe(1);
    } finally {
      await engine.close();
    }
  });
});

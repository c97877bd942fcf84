import { decide, rankWorkers, workersInLine, type PlacementPeer } from './replica-placement';

const workers = ['w-a', 'w-b', 'w-c', 'w-d'].map((id) => ({ id }));
const endpoints = Array.from({ length: 200 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const peer = (id: string, ...held: string[]): PlacementPeer => ({ id, endpoints: new Set(held) });

describe('replica placement (rendezvous hashing)', () => {
  it('puts an endpoint on at most maxReplicas workers, the same ones whatever order the directory lists them in', () => {
    for (const e of endpoints.slice(0, 20)) {
      const once = workersInLine(e, 2, workers).map((w) => w.id);
      expect(once).toHaveLength(2);
      expect(workersInLine(e, 2, [...workers].reverse()).map((w) => w.id)).toEqual(once);
      expect(workersInLine(e, 9, workers)).toHaveLength(4);
      // The ranking extends the shorter line: replica 1 is where a single replica would be.
      expect(workersInLine(e, 1, workers)[0].id).toBe(once[0]);
    }
  });

  it('spreads endpoints over the workers', () => {
    const perWorker = new Map<string, number>();
    for (const e of endpoints) {
      const [w] = workersInLine(e, 1, workers);
      perWorker.set(w.id, (perWorker.get(w.id) ?? 0) + 1);
    }
    // 50 each on average; a placement that favoured one worker would put all 200 there.
    for (const w of workers) expect(perWorker.get(w.id)).toBeGreaterThan(25);
  });

  it('moves only the endpoints of a worker that leaves', () => {
    const before = new Map(endpoints.map((e) => [e, workersInLine(e, 1, workers)[0].id]));
    const rest = workers.filter((w) => w.id !== 'w-c');
    for (const e of endpoints) {
      const after = workersInLine(e, 1, rest)[0].id;
      if (before.get(e) !== 'w-c') expect(after).toBe(before.get(e));
      else expect(after).toBe(rankWorkers(e, workers).find((w) => w.id !== 'w-c')!.id);
    }
  });

  it('a worker loads what it is in line for, and lets go of the rest only once the workers in line serve it', () => {
    const e = endpoints[0];
    const [first, second] = rankWorkers(e, workers).map((w) => w.id);
    const all = (held: Record<string, boolean>) => workers.map((w) => peer(w.id, ...(held[w.id] ? [e] : [])));
    expect(decide(first, e, 1, all({}), false)).toBe('load');
    expect(decide(first, e, 1, all({ [first]: true }), true)).toBe('keep');
    expect(decide(second, e, 1, all({}), false)).toBe('none');
    // Out of line but the only replica: kept until the worker in line holds it too.
    expect(decide(second, e, 1, all({ [second]: true }), true)).toBe('keep');
    expect(decide(second, e, 1, all({ [first]: true, [second]: true }), true)).toBe('drop');
    // Two replicas: the second in line keeps its own.
    expect(decide(second, e, 2, all({ [first]: true, [second]: true }), true)).toBe('keep');
  });

  it('a worker not yet in the directory (starting up) counts itself in', () => {
    const e = endpoints[1];
    const starting = 'w-new';
    const everyone = [...workers, { id: starting }];
    const line = workersInLine(e, 1, everyone)[0].id;
    const listed = workers.map((w) => peer(w.id, ...(w.id === line ? [e] : [])));
    expect(decide(starting, e, 1, listed, false)).toBe(line === starting ? 'load' : 'none');
    // Some endpoint is in line for the newcomer, and it loads that one.
    const mine = endpoints.find((x) => workersInLine(x, 1, everyone)[0].id === starting)!;
    expect(decide(starting, mine, 1, workers.map((w) => peer(w.id, mine)), false)).toBe('load');
  });
});

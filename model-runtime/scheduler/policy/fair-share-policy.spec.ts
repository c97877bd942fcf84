import type { ClusterSnapshot, DispatchPlan } from './dispatch.types';
import { planDispatch } from './fair-share-policy';
import { busySlots, freeSlots, job, snapshot, tenant } from './snapshot-factories';

const slotsPerTenant = (plan: DispatchPlan) =>
  plan.assignments.reduce<Record<string, number>>((acc, a) => ({ ...acc, [a.tenantId]: (acc[a.tenantId] ?? 0) + 1 }), {});

describe('planDispatch', () => {
  describe('guarantee first', () => {
    it('serves a tenant below its guarantee before any borrower, however heavy its usage', () => {
      const plan = planDispatch(
        snapshot({
          slots: freeSlots('cpu', 4),
          tenants: [tenant('casia', { weight: 10 }), tenant('whu', { guaranteedDevices: 2, decayedUsage: 1e9 })],
          jobs: [job('casia-1', 'casia', { pendingShards: 10 }), job('whu-1', 'whu', { pendingShards: 10 })],
        }),
      );
      expect(plan.assignments.slice(0, 2)).toEqual([
        expect.objectContaining({ tenantId: 'whu', basis: 'guarantee' }),
        expect.objectContaining({ tenantId: 'whu', basis: 'guarantee' }),
      ]);
      expect(plan.assignments.slice(2).map((a) => [a.tenantId, a.basis])).toEqual([
        ['casia', 'borrow'],
        ['casia', 'borrow'],
      ]);
    });

    it('serves the tenant furthest below its guarantee, relative to that guarantee, first', () => {
      const plan = planDispatch(
        snapshot({
          slots: [...freeSlots('cpu', 1), ...busySlots('cpu', 3, 'hust')],
          tenants: [tenant('hust', { guaranteedDevices: 4 }), tenant('whu', { guaranteedDevices: 2, decayedUsage: 500 })],
          jobs: [job('hust-1', 'hust'), job('whu-1', 'whu')],
        }),
      );
      expect(plan.assignments).toEqual([expect.objectContaining({ tenantId: 'whu', basis: 'guarantee' })]);
    });
  });

  describe('borrowing', () => {
    it('goes to the lowest weighted decayed usage first', () => {
      const plan = planDispatch(
        snapshot({
          slots: freeSlots('cpu', 1),
          tenants: [
            tenant('a', { decayedUsage: 100, weight: 1 }),
            tenant('b', { decayedUsage: 150, weight: 3 }),
            tenant('c', { decayedUsage: 60, weight: 1 }),
          ],
          jobs: [job('a-1', 'a'), job('b-1', 'b'), job('c-1', 'c')],
        }),
      );
      expect(plan.assignments.map((a) => a.tenantId)).toEqual(['b']);
    });

    it('counts slots granted in the same pass as usage, so one pass spreads over tenants', () => {
      const situation = snapshot({
        slots: freeSlots('cpu', 10),
        tenants: [tenant('a'), tenant('b', { weight: 4 })],
        jobs: [job('a-1', 'a', { pendingShards: 20 }), job('b-1', 'b', { pendingShards: 20 })],
      });
      expect(slotsPerTenant(planDispatch(situation, { estimatedShardSeconds: 10 }))).toEqual({ a: 2, b: 8 });
      // The failure mode it prevents: with no in-pass usage the first tenant takes everything.
      expect(slotsPerTenant(planDispatch(situation, { estimatedShardSeconds: 0 }))).toEqual({ a: 10 });
    });

    it('respects the borrow limit even with idle slots left', () => {
      const plan = planDispatch(
        snapshot({
          slots: [...freeSlots('cpu', 8), ...busySlots('cpu', 1, 'whu')],
          tenants: [tenant('whu', { guaranteedDevices: 2, borrowLimitDevices: 2 })],
          jobs: [job('whu-1', 'whu', { pendingShards: 2 }), job('whu-2', 'whu', { pendingShards: 5, createdAt: 1 })],
        }),
      );
      expect(plan.assignments.map((a) => [a.jobId, a.basis])).toEqual([
        ['whu-1', 'guarantee'],
        ['whu-1', 'borrow'],
        ['whu-2', 'borrow'],
      ]);
      expect(plan.pending).toEqual([]);
    });
  });

  describe('job order', () => {
    it('within a tenant: priority, then age, one shard at a time', () => {
      const plan = planDispatch(
        snapshot({
          slots: freeSlots('cpu', 4),
          tenants: [tenant('casia')],
          jobs: [
            job('old-low', 'casia', { priority: 0, createdAt: 0, pendingShards: 5 }),
            job('new-high', 'casia', { priority: 5, createdAt: 10, pendingShards: 1 }),
            job('older-high', 'casia', { priority: 5, createdAt: 5, pendingShards: 2 }),
          ],
        }),
      );
      expect(plan.assignments.map((a) => a.jobId)).toEqual(['older-high', 'older-high', 'new-high', 'old-low']);
    });

    it('between tenants of equal standing: priority, then age', () => {
      const plan = planDispatch(
        snapshot({
          slots: freeSlots('cpu', 1),
          tenants: [tenant('a'), tenant('b'), tenant('c')],
          jobs: [
            job('a-1', 'a', { priority: 1, createdAt: 0 }),
            job('b-1', 'b', { priority: 3, createdAt: 9 }),
            job('c-1', 'c', { priority: 3, createdAt: 4 }),
          ],
        }),
      );
      expect(plan.assignments.map((a) => a.jobId)).toEqual(['c-1']);
    });
  });

  describe('kinds', () => {
    it('never places a shard on a slot of another kind, nor reclaims across kinds', () => {
      const plan = planDispatch(
        snapshot({
          slots: [...freeSlots('h200', 3), ...busySlots('cpu', 2, 'casia')],
          tenants: [tenant('casia'), tenant('whu', { guaranteedDevices: 2 })],
          jobs: [job('whu-cpu', 'whu', { kind: 'cpu', pendingShards: 2 }), job('casia-h200', 'casia', { kind: 'h200', pendingShards: 1 })],
        }),
      );
      expect(plan.assignments).toEqual([
        { slotId: 'h200-000', kind: 'h200', tenantId: 'casia', jobId: 'casia-h200', basis: 'borrow' },
      ]);
      expect(plan.preemptions.map((p) => [p.slotId, p.kind])).toEqual([
        ['cpu-casia-000', 'cpu'],
        ['cpu-casia-001', 'cpu'],
      ]);
    });

    it('counts guarantees over all kinds together', () => {
      const plan = planDispatch(
        snapshot({
          slots: [...freeSlots('cpu', 4), ...freeSlots('ascend-910b', 4)],
          tenants: [tenant('whu', { guaranteedDevices: 2, borrowLimitDevices: 0 })],
          jobs: [job('whu-cpu', 'whu', { pendingShards: 4 }), job('whu-npu', 'whu', { kind: 'ascend-910b', pendingShards: 4 })],
        }),
      );
      // Round-robin over kinds: the shared guarantee is not spent on whichever kind sorts first.
      expect(plan.assignments.map((a) => a.kind).sort()).toEqual(['ascend-910b', 'cpu']);
    });
  });

  describe('preemptions', () => {
    it('names borrowed slots, most over-share first, to reclaim at their next shard boundary', () => {
      const plan = planDispatch(
        snapshot({
          slots: [...busySlots('cpu', 4, 'casia'), ...busySlots('cpu', 3, 'hust'), ...busySlots('cpu', 3, 'iqiyi')],
          tenants: [
            tenant('casia', { guaranteedDevices: 1, weight: 1 }), // borrows 3 per unit weight
            tenant('hust', { guaranteedDevices: 0, weight: 2 }), // borrows 1.5 per unit weight
            tenant('iqiyi', { guaranteedDevices: 3 }), // borrows nothing: never a victim
            tenant('whu', { guaranteedDevices: 3 }),
          ],
          jobs: [job('whu-1', 'whu', { pendingShards: 10 })],
        }),
      );
      expect(plan.assignments).toEqual([]);
      expect(plan.preemptions.map((p) => [p.tenantId, p.slotId, p.forTenantId])).toEqual([
        ['casia', 'cpu-casia-000', 'whu'],
        ['casia', 'cpu-casia-001', 'whu'],
        ['hust', 'cpu-hust-000', 'whu'],
      ]);
      expect(plan.preemptions[0].reason).toBe(
        "casia borrows 3 beyond its 1 guaranteed; whu is below its guarantee (0 of 3) with cpu work waiting: " +
          "let the running shard of casia-running finish, then do not dispatch casia's next shard on cpu-casia-000",
      );
    });

    it('reclaims no more than the pending shards, and nothing when nobody is below guarantee', () => {
      const base = {
        slots: busySlots('cpu', 4, 'casia'),
        tenants: [tenant('casia'), tenant('whu', { guaranteedDevices: 3 })],
      };
      expect(planDispatch(snapshot({ ...base, jobs: [job('whu-1', 'whu', { pendingShards: 1 })] })).preemptions).toHaveLength(1);
      expect(
        planDispatch(snapshot({ ...base, tenants: [tenant('casia'), tenant('whu')], jobs: [job('whu-1', 'whu')] })).preemptions,
      ).toEqual([]);
    });

    it('does not reclaim when a free slot of the kind exists', () => {
      const plan = planDispatch(
        snapshot({
          slots: [...busySlots('cpu', 3, 'casia'), ...freeSlots('cpu', 1)],
          tenants: [tenant('casia'), tenant('whu', { guaranteedDevices: 1 })],
          jobs: [job('whu-1', 'whu')],
        }),
      );
      expect(plan.assignments).toEqual([expect.objectContaining({ tenantId: 'whu', basis: 'guarantee' })]);
      expect(plan.preemptions).toEqual([]);
    });
  });

  describe('pendingReason', () => {
    const reasonOf = (plan: DispatchPlan, jobId: string) => plan.pending.find((p) => p.jobId === jobId);

    it('explains a job waiting for a busy kind, with the jobs ahead of it and its tenant standing', () => {
      const plan = planDispatch(
        snapshot({
          slots: [...busySlots('cpu', 3, 'casia'), ...busySlots('cpu', 2, 'whu')],
          tenants: [tenant('casia', { guaranteedDevices: 2, borrowLimitDevices: 2, decayedUsage: 50 }), tenant('whu', { decayedUsage: 10 })],
          jobs: [
            job('whu-1', 'whu'),
            job('whu-2', 'whu', { createdAt: 1 }),
            job('casia-1', 'casia', { priority: 9 }),
            job('casia-2', 'casia'),
          ],
        }),
      );
      expect(reasonOf(plan, 'whu-1')).toEqual({
        jobId: 'whu-1',
        tenantId: 'whu',
        cause: 'waiting-for-slot',
        reason: 'waiting for a cpu slot (all 5 busy): next in line; whu is using its 0 guaranteed devices and 2 of 100 borrowable',
      });
      expect(reasonOf(plan, 'casia-2')?.reason).toBe(
        'waiting for a cpu slot (all 5 busy): 3 jobs ahead; casia is using its 2 guaranteed devices and 1 of 2 borrowable',
      );
      expect(plan.pending.map((p) => p.jobId)).toEqual(['whu-1', 'whu-2', 'casia-1', 'casia-2']);
    });

    it('explains the borrow limit', () => {
      const plan = planDispatch(
        snapshot({
          slots: [...busySlots('cpu', 4, 'whu'), ...freeSlots('cpu', 4)],
          tenants: [tenant('whu', { guaranteedDevices: 2, borrowLimitDevices: 2 })],
          jobs: [job('whu-1', 'whu')],
        }),
      );
      expect(reasonOf(plan, 'whu-1')).toMatchObject({
        cause: 'borrow-limit',
        reason: 'tenant whu reached its borrow limit (2 guaranteed + 2 borrowed); its next shard starts when one of its 4 running shards finishes',
      });
    });

    it('explains a kind with no device, a tenant without quota, an unknown tenant and an invalid quota', () => {
      const plan = planDispatch(
        snapshot({
          slots: freeSlots('cpu', 4),
          tenants: [tenant('casia'), tenant('douyu', { borrowLimitDevices: 0 }), tenant('hust', { weight: 0 })],
          jobs: [job('casia-h200', 'casia', { kind: 'h200' }), job('douyu-1', 'douyu'), job('ghost-1', 'ghost'), job('hust-1', 'hust')],
        }),
      );
      expect(plan.assignments).toEqual([]);
      expect(plan.pending.map((p) => [p.jobId, p.cause, p.reason])).toEqual([
        [
          'douyu-1',
          'no-quota',
          'tenant douyu has no device quota (0 guaranteed, 0 borrowable): an operator must set guaranteedDevices or borrowLimitDevices',
        ],
        ['ghost-1', 'unknown-tenant', 'tenant ghost has no quota record: an operator must set its quota'],
        ['hust-1', 'invalid-quota', 'tenant hust has an invalid quota (weight 0, must be > 0): an operator must correct it'],
        ['casia-h200', 'no-device-of-kind', 'no device of kind h200 is registered'],
      ]);
    });

    it('says when borrowed slots are being reclaimed for a tenant below its guarantee, and when none can be', () => {
      const reclaimable = planDispatch(
        snapshot({
          slots: busySlots('cpu', 4, 'casia'),
          tenants: [tenant('casia'), tenant('whu', { guaranteedDevices: 2 })],
          jobs: [job('whu-1', 'whu', { pendingShards: 5 })],
        }),
      );
      expect(reasonOf(reclaimable, 'whu-1')?.reason).toBe(
        'waiting for a cpu slot (all 4 busy): next in line; whu is using 0 of its 2 guaranteed devices; 2 borrowed cpu slots of casia will be reclaimed at their next shard boundary',
      );
      const overcommitted = planDispatch(
        snapshot({
          slots: busySlots('cpu', 2, 'casia'),
          tenants: [tenant('casia', { guaranteedDevices: 2 }), tenant('whu', { guaranteedDevices: 2 })],
          jobs: [job('whu-1', 'whu')],
        }),
      );
      expect(reasonOf(overcommitted, 'whu-1')?.reason).toBe(
        'waiting for a cpu slot (all 2 busy): next in line; whu is using 0 of its 2 guaranteed devices; no borrowed cpu slot is left to reclaim (guarantees on cpu exceed its 2 slots)',
      );
    });

    it('gives no reason to a job that got a shard, even with shards left', () => {
      const plan = planDispatch(
        snapshot({ slots: freeSlots('cpu', 1), tenants: [tenant('a')], jobs: [job('a-1', 'a', { pendingShards: 3 })] }),
      );
      expect(plan.pending).toEqual([]);
    });
  });

  describe('invariants on random clusters', () => {
    function randomCluster(seed: number): ClusterSnapshot {
      let state = seed;
      const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
      const kinds = ['cpu', 'ascend-910b', 'h200'];
      const tenants = Array.from({ length: 12 }, (_, i) =>
        tenant(`t${i}`, {
          guaranteedDevices: Math.floor(random() * 4),
          borrowLimitDevices: Math.floor(random() * 6),
          weight: 1 + Math.floor(random() * 5),
          decayedUsage: Math.floor(random() * 1000),
        }),
      );
      const slots = Array.from({ length: 40 }, (_, i) => {
        const kind = pick(kinds);
        return random() < 0.5 ? { id: `s${i}`, kind } : { id: `s${i}`, kind, running: { tenantId: pick(tenants).id, jobId: 'r', startedAt: i } };
      });
      const jobs = Array.from({ length: 80 }, (_, i) =>
        job(`j${i}`, pick(tenants).id, {
          kind: pick([...kinds, 'tpu']),
          priority: Math.floor(random() * 3),
          createdAt: Math.floor(random() * 100),
          pendingShards: 1 + Math.floor(random() * 4),
        }),
      );
      return { slots, tenants, jobs };
    }

    function shuffled<T>(items: readonly T[], seed: number): T[] {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = (seed * (i + 7)) % (i + 1);
        [copy[i], copy[j]] = [copy[j], copy[i]];
      }
      return copy;
    }

    it.each([1, 2, 3, 4, 5, 6, 7, 8])('holds for seed %i', (seed) => {
      const cluster = randomCluster(seed);
      const plan = planDispatch(cluster);

      // Deterministic, whatever order the snapshot lists things in.
      expect(planDispatch(cluster)).toEqual(plan);
      expect(
        planDispatch({ slots: shuffled(cluster.slots, seed), tenants: shuffled(cluster.tenants, seed + 1), jobs: shuffled(cluster.jobs, seed + 2) }),
      ).toEqual(plan);

      const slotKind = new Map(cluster.slots.map((s) => [s.id, s.kind]));
      const jobById = new Map(cluster.jobs.map((j) => [j.id, j]));
      const usedSlots = new Set(plan.assignments.map((a) => a.slotId));
      expect(usedSlots.size).toBe(plan.assignments.length);
      for (const a of plan.assignments) {
        expect(cluster.slots.find((s) => s.id === a.slotId)?.running).toBeUndefined();
        expect(slotKind.get(a.slotId)).toBe(jobById.get(a.jobId)!.kind);
      }
      for (const t of cluster.tenants) {
        const running = cluster.slots.filter((s) => s.running?.tenantId === t.id).length;
        const granted = plan.assignments.filter((a) => a.tenantId === t.id).length;
        if (granted > 0) expect(running + granted).toBeLessThanOrEqual(t.guaranteedDevices + t.borrowLimitDevices);
      }
      // Every job with shards left either got one or carries a reason — exactly one of the two.
      const served = new Set(plan.assignments.map((a) => a.jobId));
      const explained = plan.pending.map((p) => p.jobId);
      expect(new Set(explained).size).toBe(explained.length);
      for (const j of cluster.jobs) expect(served.has(j.id) !== explained.includes(j.id)).toBe(true);
      // A waiting job never has a free slot of its kind left unused.
      const freeLeft = new Set(cluster.slots.filter((s) => !s.running && !usedSlots.has(s.id)).map((s) => s.kind));
      for (const p of plan.pending) if (p.cause === 'waiting-for-slot') expect(freeLeft.has(jobById.get(p.jobId)!.kind)).toBe(false);
    });
  });
});

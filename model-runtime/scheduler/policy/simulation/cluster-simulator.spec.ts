import type { ClusterSnapshot, DispatchPlan } from '../dispatch.types';
import { planDispatch } from '../fair-share-policy';
import { freeSlots } from '../snapshot-factories';
import { simulateCluster, type SimulatedJob } from './cluster-simulator';

const shards = (count: number, seconds: number) => Array.from({ length: count }, () => seconds);

describe('fair share over time (discrete-event simulation)', () => {
  it('divides a saturated cluster in proportion to weights (1:3 within 10%)', () => {
    const jobs: SimulatedJob[] = ['light', 'heavy'].map((tenantId) => ({
      id: `${tenantId}-1`,
      tenantId,
      kind: 'cpu',
      priority: 0,
      submitAtSec: 0,
      shardSeconds: shards(20_000, 10),
    }));
    const result = simulateCluster({
      slots: freeSlots('cpu', 4),
      tenants: [
        { id: 'light', guaranteedDevices: 0, borrowLimitDevices: 4, weight: 1 },
        { id: 'heavy', guaranteedDevices: 0, borrowLimitDevices: 4, weight: 3 },
      ],
      jobs,
      halfLifeSec: 3600,
      passIntervalSec: 0,
      untilSec: 40_000,
      plan: (snapshot) => planDispatch(snapshot, { estimatedShardSeconds: 10 }),
    });

    const window = result.saturated!;
    expect(window.toSec - window.fromSec).toBeGreaterThanOrEqual(39_000);
    const light = window.deviceSeconds.get('light')!;
    const heavy = window.deviceSeconds.get('heavy')!;
    // Saturated: the 4 slots never idle.
    expect(light + heavy).toBeCloseTo(4 * (window.toSec - window.fromSec), -2);
    expect(light / (light + heavy)).toBeGreaterThan(0.25 * 0.9);
    expect(light / (light + heavy)).toBeLessThan(0.25 * 1.1);
  });

  it('gives a late tenant its guarantee at the next shard boundaries, reclaiming from the borrower', () => {
    const plans: DispatchPlan[] = [];
    const result = simulateCluster({
      slots: freeSlots('cpu', 4),
      tenants: [
        { id: 'casia', guaranteedDevices: 2, borrowLimitDevices: 2, weight: 1 },
        { id: 'whu', guaranteedDevices: 2, borrowLimitDevices: 2, weight: 1 },
      ],
      jobs: [
        // Staggered first shards, so the four boundaries fall at 4, 6, 8 and 10 s.
        { id: 'casia-1', tenantId: 'casia', kind: 'cpu', priority: 0, submitAtSec: 0, shardSeconds: [4, 6, 8, 10, ...shards(200, 10)] },
        { id: 'whu-1', tenantId: 'whu', kind: 'cpu', priority: 0, submitAtSec: 5, shardSeconds: shards(100, 10) },
      ],
      halfLifeSec: 3600,
      passIntervalSec: 0,
      untilSec: 300,
      plan: (snapshot: ClusterSnapshot) => {
        const plan = planDispatch(snapshot);
        plans.push(plan);
        return plan;
      },
    });

    const whuStarts = result.dispatches.filter((d) => d.tenantId === 'whu').map((d) => d.atSec);
    expect(whuStarts.slice(0, 2)).toEqual([6, 8]);
    // While whu arrives and waits, the plan names two of casia's borrowed slots to reclaim.
    const atArrival = plans.find((plan) => plan.pending.some((r) => r.tenantId === 'whu'))!;
    expect(atArrival.preemptions).toHaveLength(2);
    expect(atArrival.preemptions.every((p) => p.tenantId === 'casia' && p.forTenantId === 'whu')).toBe(true);

    // From then on each runs its guarantee: casia never gets a third slot back while whu has work.
    const running = (tenantId: string, atSec: number) =>
      result.dispatches.filter((d) => d.tenantId === tenantId && d.atSec <= atSec && d.endsAtSec > atSec).length;
    for (let t = 8; t < 300; t += 1) {
      expect(running('whu', t)).toBe(2);
      expect(running('casia', t)).toBe(2);
    }
  });
});

// A discrete-event simulation of the cluster around planDispatch, for the long-run tests and
// bench/scheduler-sim.bench.ts. Simulated clock only: events are job arrivals and shard
// completions; a scheduling pass runs at each event instant, coalesced onto a grid of
// `passIntervalSec` the way Slurm batches its main loop (sched_interval).
import { BinaryHeap } from '../binary-heap';
import type { ClusterSnapshot, DeviceKind, DispatchPlan, PendingJob, SlotState } from '../dispatch.types';
import { accrueRunning, type DecayedUsage } from '../usage-decay';

export interface SimulatedTenant {
  id: string;
  guaranteedDevices: number;
  borrowLimitDevices: number;
  weight: number;
}

export interface SimulatedJob {
  id: string;
  tenantId: string;
  kind: DeviceKind;
  priority: number;
  submitAtSec: number;
  /** Duration of each shard, in dispatch order. */
  shardSeconds: readonly number[];
}

export interface SimulationConfig {
  slots: readonly { id: string; kind: DeviceKind }[];
  tenants: readonly SimulatedTenant[];
  jobs: readonly SimulatedJob[];
  halfLifeSec: number;
  /** 0 runs a pass at every event instant. */
  passIntervalSec: number;
  untilSec: number;
  plan: (snapshot: ClusterSnapshot) => DispatchPlan;
}

export interface DispatchRecord {
  atSec: number;
  endsAtSec: number;
  tenantId: string;
  jobId: string;
  slotId: string;
}

export interface SimulationResult {
  endSec: number;
  passes: number;
  dispatches: DispatchRecord[];
  deviceSeconds: Map<string, number>;
  /** The span in which every tenant had work waiting, and the device-seconds each got in it. */
  saturated: { fromSec: number; toSec: number; deviceSeconds: Map<string, number> } | null;
}

interface TenantClock {
  running: number;
  busySeconds: number;
  lastAtSec: number;
  usage: DecayedUsage;
  pendingShards: number;
}

interface LiveJob {
  source: SimulatedJob;
  pending: PendingJob;
  nextShard: number;
}

export function simulateCluster(config: SimulationConfig): SimulationResult {
  const clocks = new Map<string, TenantClock>(
    config.tenants.map((t) => [t.id, { running: 0, busySeconds: 0, lastAtSec: 0, usage: { deviceSeconds: 0, asOfSec: 0 }, pendingShards: 0 }]),
  );
  const advance = (tenantId: string, atSec: number) => {
    const clock = clocks.get(tenantId)!;
    clock.busySeconds += clock.running * (atSec - clock.lastAtSec);
    clock.usage = accrueRunning(clock.usage, clock.running, atSec, config.halfLifeSec);
    clock.lastAtSec = atSec;
  };

  const slots: SlotState[] = config.slots.map((s) => ({ id: s.id, kind: s.kind }));
  const slotById = new Map(slots.map((s) => [s.id, s]));
  const arrivals = [...config.jobs].sort((a, b) => a.submitAtSec - b.submitAtSec || (a.id < b.id ? -1 : 1));
  let nextArrival = 0;
  const live = new Map<string, LiveJob>();
  const completions = new BinaryHeap<DispatchRecord>((a, b) => a.endsAtSec - b.endsAtSec || (a.slotId < b.slotId ? -1 : 1));
  const dispatches: DispatchRecord[] = [];
  let saturatedFrom: { atSec: number; busy: Map<string, number> } | null = null;
  let saturated: SimulationResult['saturated'] = null;
  let passes = 0;
  let now = 0;

  const busySnapshot = () => new Map([...clocks].map(([id, c]) => [id, c.busySeconds]));
  const nextPassAt = (eventSec: number) =>
    config.passIntervalSec > 0 ? Math.ceil(eventSec / config.passIntervalSec - 1e-9) * config.passIntervalSec : eventSec;

  for (;;) {
    const nextEvent = Math.min(completions.peek()?.endsAtSec ?? Infinity, arrivals[nextArrival]?.submitAtSec ?? Infinity);
    if (nextEvent === Infinity || nextPassAt(nextEvent) > config.untilSec) break;
    now = Math.max(now, nextPassAt(nextEvent));

    while ((completions.peek()?.endsAtSec ?? Infinity) <= now) {
      const done = completions.pop()!;
      advance(done.tenantId, done.endsAtSec);
      clocks.get(done.tenantId)!.running -= 1;
      slotById.get(done.slotId)!.running = undefined;
    }
    while (nextArrival < arrivals.length && arrivals[nextArrival].submitAtSec <= now) {
      const source = arrivals[nextArrival++];
      const pending = { id: source.id, tenantId: source.tenantId, kind: source.kind, priority: source.priority, createdAt: source.submitAtSec, pendingShards: source.shardSeconds.length };
      live.set(source.id, { source, pending, nextShard: 0 });
      clocks.get(source.tenantId)!.pendingShards += source.shardSeconds.length;
    }

    for (const id of clocks.keys()) advance(id, now);
    const snapshot: ClusterSnapshot = {
      slots,
      tenants: config.tenants.map((t) => ({ ...t, decayedUsage: clocks.get(t.id)!.usage.deviceSeconds })),
      jobs: [...live.values()].map((j) => j.pending),
    };
    const plan = config.plan(snapshot);
    passes += 1;

    for (const assignment of plan.assignments) {
      const job = live.get(assignment.jobId)!;
      const record = { atSec: now, endsAtSec: now + job.source.shardSeconds[job.nextShard++], tenantId: assignment.tenantId, jobId: assignment.jobId, slotId: assignment.slotId };
      slotById.get(assignment.slotId)!.running = { tenantId: record.tenantId, jobId: record.jobId, startedAt: now };
      clocks.get(record.tenantId)!.running += 1;
      clocks.get(record.tenantId)!.pendingShards -= 1;
      job.pending = { ...job.pending, pendingShards: job.pending.pendingShards - 1 };
      if (job.pending.pendingShards === 0) live.delete(job.source.id);
      dispatches.push(record);
      completions.push(record);
    }

    const everyoneWaiting = [...clocks.values()].every((c) => c.pendingShards > 0);
    if (!saturatedFrom && !saturated && everyoneWaiting) saturatedFrom = { atSec: now, busy: busySnapshot() };
    if (saturatedFrom && !saturated && !everyoneWaiting) saturated = closeSaturation(saturatedFrom, now, busySnapshot());
  }

  for (const id of clocks.keys()) advance(id, now);
  if (saturatedFrom && !saturated) saturated = closeSaturation(saturatedFrom, now, busySnapshot());
  return { endSec: now, passes, dispatches, deviceSeconds: busySnapshot(), saturated };
}

function closeSaturation(from: { atSec: number; busy: Map<string, number> }, toSec: number, busy: Map<string, number>) {
  return {
    fromSec: from.atSec,
    toSec,
    deviceSeconds: new Map([...busy].map(([id, seconds]) => [id, seconds - from.busy.get(id)!])),
  };
}

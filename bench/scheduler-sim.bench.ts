// Scheduler simulation at scale: 100 tenants of varied weights, 10,000 pending jobs, 1,000
// virtual devices of three kinds, shards of random durations, on a simulated clock.
// Run:
//   cd /work/main && npx tsc --outDir /tmp/ahb --module node20 --target es2022 --types node --skipLibCheck bench/scheduler-sim.bench.ts && node /tmp/ahb/bench/scheduler-sim.bench.js
// Prints decision times (process.hrtime, the only wall-clock reading) and each tenant's
// device-time share against its weight; writes bench/results/scheduler-sim.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSnapshot, DispatchPlan, SlotState } from '../model-runtime/scheduler/policy/dispatch.types';
import { planDispatch } from '../model-runtime/scheduler/policy/fair-share-policy';
import { simulateCluster, type SimulatedJob, type SimulatedTenant } from '../model-runtime/scheduler/policy/simulation/cluster-simulator';

const SEED = 20240601;
const TENANTS = 100;
const JOBS = 10_000;
const KINDS = [
  { kind: 'ascend-910b', slots: 700 },
  { kind: 'cpu', slots: 200 },
  { kind: 'h200', slots: 100 },
];
const SHARDS_PER_JOB = [10, 50];
const SHARD_SECONDS = [5, 60];
const MEAN_SHARD_SECONDS = (SHARD_SECONDS[0] + SHARD_SECONDS[1]) / 2;
const HALF_LIFE_SEC = 1800;
const PASS_INTERVAL_SEC = 1;
const UNTIL_SEC = 3600;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(SEED);
const between = (low: number, high: number) => low + random() * (high - low);
const intBetween = (low: number, high: number) => Math.floor(between(low, high + 1));

const slots = KINDS.flatMap(({ kind, slots: count }) => Array.from({ length: count }, (_, i) => ({ id: `${kind}-${i}`, kind })));
const deviceCount = slots.length;

const weights = Array.from({ length: TENANTS }, () => [0.5, 1, 1, 2, 3, 5, 8][intBetween(0, 6)]);
const totalWeight = weights.reduce((a, b) => a + b, 0);
// Guarantees cover half the cluster, in proportion to weight; borrow limits are loose enough not
// to bind, so the measured shares show the fair-share order itself.
const tenants: SimulatedTenant[] = weights.map((weight, i) => {
  const fairDevices = (deviceCount * weight) / totalWeight;
  return {
    id: `tenant-${String(i).padStart(3, '0')}`,
    guaranteedDevices: Math.floor(fairDevices / 2),
    borrowLimitDevices: Math.ceil(fairDevices * 3) + 10,
    weight,
  };
});

// Jobs per tenant in proportion to weight, so every tenant keeps work waiting for most of the run;
// all are queued when the run starts, submitted over the two hours before it.
const jobs: SimulatedJob[] = [];
const pickKind = () => {
  let r = random() * deviceCount;
  for (const { kind, slots: count } of KINDS) if ((r -= count) < 0) return kind;
  return KINDS[0].kind;
};
tenants.forEach((tenant, t) => {
  const count = t === TENANTS - 1 ? JOBS - jobs.length : Math.max(1, Math.round((JOBS * tenant.weight) / totalWeight));
  for (let j = 0; j < count; j++) {
    jobs.push({
      id: `${tenant.id}-job-${j}`,
      tenantId: tenant.id,
      kind: pickKind(),
      priority: intBetween(0, 3),
      submitAtSec: -between(0, 7200),
      shardSeconds: Array.from({ length: intBetween(SHARDS_PER_JOB[0], SHARDS_PER_JOB[1]) }, () => between(SHARD_SECONDS[0], SHARD_SECONDS[1])),
    });
  }
});

const passNs: number[] = [];
const perShardNs: number[] = [];
let shardsDispatched = 0;
const timedPlan = (snapshot: ClusterSnapshot): DispatchPlan => {
  const started = process.hrtime.bigint();
  const plan = planDispatch(snapshot, { estimatedShardSeconds: MEAN_SHARD_SECONDS });
  const elapsed = Number(process.hrtime.bigint() - started);
  passNs.push(elapsed);
  if (plan.assignments.length > 0) {
    perShardNs.push(elapsed / plan.assignments.length);
    shardsDispatched += plan.assignments.length;
  }
  return plan;
};

const wallStarted = process.hrtime.bigint();
const result = simulateCluster({
  slots,
  tenants,
  jobs,
  halfLifeSec: HALF_LIFE_SEC,
  passIntervalSec: PASS_INTERVAL_SEC,
  untilSec: UNTIL_SEC,
  plan: timedPlan,
});
const wallSeconds = Number(process.hrtime.bigint() - wallStarted) / 1e9;

// The worst case for "per shard": a pass that has one free slot to fill but must still index
// the whole queue (10,000 jobs) and explain every waiting job.
function oneFreeSlotPassNs(reps: number): number[] {
  const busy: SlotState[] = slots.map((s, i) =>
    i === 0 ? { ...s } : { ...s, running: { tenantId: tenants[i % TENANTS].id, jobId: 'running', startedAt: i } },
  );
  const snapshot: ClusterSnapshot = {
    slots: busy,
    tenants: tenants.map((t, i) => ({ ...t, decayedUsage: 1000 * (i + 1) })),
    jobs: jobs.map((j) => ({ id: j.id, tenantId: j.tenantId, kind: j.kind, priority: j.priority, createdAt: j.submitAtSec, pendingShards: j.shardSeconds.length })),
  };
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const started = process.hrtime.bigint();
    planDispatch(snapshot, { estimatedShardSeconds: MEAN_SHARD_SECONDS });
    samples.push(Number(process.hrtime.bigint() - started));
  }
  return samples.slice(Math.floor(reps / 5)); // drop JIT warm-up
}
const singleSlotNs = oneFreeSlotPassNs(300);

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const ms = (ns: number) => Number((ns / 1e6).toFixed(3));

// Jain's fairness index over weight-normalised shares, only over the saturated period (every
// tenant has work waiting): (Σx)² / (n·Σx²), 1 = perfectly proportional to weights.
const window = result.saturated;
const windowSeconds = window ? window.toSec - window.fromSec : 0;
const windowTotal = window ? [...window.deviceSeconds.values()].reduce((a, b) => a + b, 0) : 0;
const perTenant = tenants.map((t) => {
  const deviceSeconds = window?.deviceSeconds.get(t.id) ?? 0;
  const share = windowTotal > 0 ? deviceSeconds / windowTotal : 0;
  const entitled = t.weight / totalWeight;
  return { tenant: t.id, weight: t.weight, guaranteed: t.guaranteedDevices, deviceSeconds: Math.round(deviceSeconds), share, entitled, ratio: share / entitled };
});
const ratios = perTenant.map((p) => p.ratio);
const jain = ratios.reduce((a, b) => a + b, 0) ** 2 / (ratios.length * ratios.reduce((a, b) => a + b * b, 0));
const utilisation = windowSeconds > 0 ? windowTotal / (deviceCount * windowSeconds) : 0;

const summary = {
  seed: SEED,
  setup: { tenants: TENANTS, pendingJobs: JOBS, devices: deviceCount, kinds: KINDS, shardsPerJob: SHARDS_PER_JOB, shardSeconds: SHARD_SECONDS, halfLifeSec: HALF_LIFE_SEC, passIntervalSec: PASS_INTERVAL_SEC, untilSec: UNTIL_SEC },
  simulation: { simulatedSeconds: result.endSec, passes: result.passes, shardsDispatched, wallSeconds: Number(wallSeconds.toFixed(2)) },
  decisionMs: {
    perPass: { p50: ms(quantile(passNs, 0.5)), p99: ms(quantile(passNs, 0.99)), max: ms(Math.max(...passNs)), meanShardsPerPass: Number((shardsDispatched / result.passes).toFixed(1)) },
    perShard: { p50: ms(quantile(perShardNs, 0.5)), p99: ms(quantile(perShardNs, 0.99)) },
    oneFreeSlotFullQueue: { p50: ms(quantile(singleSlotNs, 0.5)), p99: ms(quantile(singleSlotNs, 0.99)) },
  },
  fairness: {
    saturatedFromSec: window?.fromSec ?? null,
    saturatedToSec: window?.toSec ?? null,
    utilisation: Number(utilisation.toFixed(4)),
    jainIndex: Number(jain.toFixed(4)),
    target: 0.95,
    shareOverEntitlement: { min: Number(Math.min(...ratios).toFixed(3)), max: Number(Math.max(...ratios).toFixed(3)) },
  },
  tenants: perTenant.map((p) => ({ ...p, share: Number(p.share.toFixed(5)), entitled: Number(p.entitled.toFixed(5)), ratio: Number(p.ratio.toFixed(3)) })),
};

console.log(`scheduler simulation: ${TENANTS} tenants, ${JOBS} jobs, ${deviceCount} devices, ${result.endSec.toFixed(0)} simulated s, ${result.passes} passes, ${shardsDispatched} shards, ${summary.simulation.wallSeconds} s wall`);
console.table({
  'per pass (ms)': { ...summary.decisionMs.perPass },
  'per shard (ms)': { ...summary.decisionMs.perShard },
  'one free slot, 10k jobs queued (ms)': { ...summary.decisionMs.oneFreeSlotFullQueue },
});
console.log(`saturated period ${window?.fromSec ?? '-'}–${window?.toSec ?? '-'} s, utilisation ${(utilisation * 100).toFixed(1)}%`);
console.table(
  [...perTenant]
    .sort((a, b) => a.weight - b.weight || a.tenant.localeCompare(b.tenant))
    .map((p) => ({ tenant: p.tenant, weight: p.weight, guaranteed: p.guaranteed, 'device-s': p.deviceSeconds, 'share %': (p.share * 100).toFixed(3), 'entitled %': (p.entitled * 100).toFixed(3), 'share/entitled': p.ratio.toFixed(3) })),
);
console.log(`Jain's fairness index over weight-normalised shares: ${jain.toFixed(4)} (target >= 0.95) ${jain >= 0.95 ? 'OK' : 'BELOW TARGET'}`);

const outDir = join(process.cwd(), 'bench', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'scheduler-sim.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${join(outDir, 'scheduler-sim.json')}`);

// Which split-mode workers hold an endpoint: at most its maxReplicas, chosen by rendezvous
// (highest-random-weight) hashing over the live workers of its accelerator kind. Every process
// computes the same answer from the same directory, with no coordinator: the API process sends a
// deployment to the workers in line, and each worker's reconcile loads what it is in line for and
// lets go of what it is not. Endpoints spread evenly over workers; a worker joining or leaving
// moves only the endpoints it gains or loses, not everybody's (the point of rendezvous hashing
// over "the least busy worker", which would reshuffle with every deployment).
//
// Availability first: a worker out of line keeps its replica until every worker in line holds
// one, so a move never leaves an endpoint unserved; and a worker in line that cannot load a
// model simply leaves the older replica serving.
import { createHash } from 'node:crypto';

export interface PlacementPeer {
  id: string;
  /** Endpoint ids the worker advertises holding. */
  endpoints: ReadonlySet<string>;
}

function weight(endpointId: string, workerId: string): bigint {
  return createHash('sha256').update(`${endpointId}/${workerId}`).digest().readBigUInt64BE(0);
}

/** Every worker, best placed first, for one endpoint. */
export function rankWorkers<W extends { id: string }>(endpointId: string, workers: readonly W[]): W[] {
  return workers
    .map((w) => ({ w, score: weight(endpointId, w.id) }))
    .sort((a, b) => (a.score === b.score ? a.w.id.localeCompare(b.w.id) : a.score > b.score ? -1 : 1))
    .map((e) => e.w);
}

/** The workers that should hold the endpoint: the first maxReplicas in its ranking. */
export function workersInLine<W extends { id: string }>(endpointId: string, maxReplicas: number, workers: readonly W[]): W[] {
  return rankWorkers(endpointId, workers).slice(0, Math.max(1, maxReplicas));
}

export type ReplicaDecision = 'load' | 'keep' | 'drop' | 'none';

/**
 * What worker `self` does about one endpoint, given the live peers of its kind (itself among
 * them or not: it is added) and whether it holds the endpoint now.
 */
export function decide(self: string, endpointId: string, maxReplicas: number, peers: readonly PlacementPeer[], holds: boolean): ReplicaDecision {
  const everyone = peers.some((p) => p.id === self) ? peers : [...peers, { id: self, endpoints: new Set<string>() }];
  const inLine = workersInLine(endpointId, maxReplicas, everyone);
  if (inLine.some((p) => p.id === self)) return holds ? 'keep' : 'load';
  if (!holds) return 'none';
  // Out of line: let go only once every worker in line serves it.
  return inLine.every((p) => p.endpoints.has(endpointId)) ? 'drop' : 'keep';
}

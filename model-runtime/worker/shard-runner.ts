// What a worker needs from the model runtime: run items on an endpoint, one result or error per
// item, and the device time they took. Implemented over the in-process InferenceRuntime.
export type ItemOutcome = { output: unknown } | { error: string };

export interface ShardRunner {
  /** Micro-batch size for an endpoint (its max batch size): cancellation is checked between. */
  batchSize(endpointId: string): Promise<number>;
  run(endpointId: string, inputs: unknown[]): Promise<{ outcomes: ItemOutcome[]; deviceSeconds: number }>;
}

export * from './dispatch.types';
export { planDispatch, DEFAULT_ESTIMATED_SHARD_SECONDS } from './fair-share-policy';
export { decay, addUsage, accrueRunning, type DecayedUsage } from './usage-decay';

import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum UsageGroupBy {
  DAY = 'DAY',
  MODEL = 'MODEL',
  USER = 'USER',
  ENDPOINT = 'ENDPOINT',
  DATASET = 'DATASET',
}

registerEnumType(UsageGroupBy, { name: 'UsageGroupBy' });

/** The key of the bucket holding usage with no such dimension (no dataset, a deleted user). */
export const NO_KEY = 'none';

/** Everything a bucket needs to compute its own breakdown (kept off the schema). */
export interface UsageWindow {
  from: Date;
  to: Date;
}

/**
 * Computes the second level of a `usage` answer once for all its buckets: every bucket of one
 * answer shares one of these, so `breakdown` on N buckets costs one query, not N.
 */
export interface UsageBreakdownSource {
  breakdown(parentKey: string | null, groupBy: UsageGroupBy): Promise<UsageBucketNode[]>;
}

@ObjectType('UsageBucket', {
  description: 'Usage of one key in the window. Jobs: jobs that ran (a shard finished or was charged) in the bucket — a job '
    + 'running across midnight counts on both days. Requests: synchronous inference requests.',
})
export class UsageBucketNode {
  @Field({
    description: "DAY: the UTC date 'YYYY-MM-DD'. MODEL, ENDPOINT, DATASET, USER: the object's global id. "
      + `'${NO_KEY}' for usage without one (jobs over inline inputs and synchronous inference under DATASET; a deleted user).`,
  })
  key: string;

  @Field({ description: 'A name for people: the date, model or dataset name (owner/name when another tenant owns it), endpoint name or username.' })
  label: string;

  @Field(() => Float)
  deviceSeconds: number;

  @Field(() => Float, { description: "The ledger's CAPTURE entries in the window: jobs' by the entry's time, synchronous inference by the minute it ran in." })
  computeUnits: number;

  @Field(() => Int)
  jobs: number;

  @Field(() => Int)
  requests: number;

  /** The raw key (uuid or date; null for none) and the answer this bucket belongs to. */
  rawKey: string | null;
  source: UsageBreakdownSource;
}

@ObjectType('AssetUsage', { description: "Another tenant's use of one of the acting tenant's datasets or models in the window." })
export class AssetUsageNode {
  @Field(() => ID, { description: 'Global id of the Dataset or Model used.' })
  assetId: string;

  @Field()
  assetName: string;

  @Field({ description: 'Dataset or Model.' })
  assetType: string;

  @Field(() => Int, { description: 'Jobs of the consumer that ran over the dataset or on the model in the window.' })
  jobs: number;

  @Field(() => Int, { description: 'Items those jobs processed in the window, plus items of synchronous inference requests.' })
  items: number;

  @Field(() => Int, { description: 'Synchronous inference requests on endpoints of the model.' })
  requests: number;

  @Field(() => Float, { description: "Compute units the consumer was charged for that use (the consumer's ledger)." })
  computeUnits: number;

  consumerTenantId: string;
}

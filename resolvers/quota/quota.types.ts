import { Field, Float, InputType, Int, ObjectType } from 'type-graphql';
import { ConnectionType } from '../common/connection';
import { Node } from '../common/node.types';

@ObjectType('Quota')
export class QuotaNode {
  @Field()
  period: string;

  @Field(() => Float)
  budgetUnits: number;

  @Field(() => Float, {
    description: 'Held for admitted jobs, and by other API processes for their next synchronous requests '
      + '(such a hold goes back after about a second idle; what the answering process holds counts as available).',
  })
  reservedUnits: number;

  @Field(() => Float, {
    description: 'Charged this period. Synchronous requests are settled in aggregated ledger entries within a fraction '
      + 'of a second; the process that answered them counts them at once.',
  })
  usedUnits: number;

  @Field(() => Float, { description: 'budgetUnits − reservedUnits − usedUnits.' })
  availableUnits: number;

  @Field(() => Int)
  guaranteedDevices: number;

  @Field(() => Int)
  borrowLimitDevices: number;

  @Field(() => Int)
  runningDevices: number;

  @Field(() => Float)
  weight: number;

  tenantId: string;
}

@ObjectType('LedgerEntry', { implements: Node })
export class LedgerEntryNode extends Node {
  @Field()
  kind: string;

  @Field(() => Float, { description: 'Compute units; negative only for an ADJUST that lowered the budget.' })
  units: number;

  @Field(() => String, { nullable: true })
  memo: string | null;

  @Field()
  at: Date;

  @Field(() => String, { description: 'The quota period (calendar month, UTC) the entry belongs to.' })
  period: string;

  jobId: string | null;
}

export const LedgerEntryConnection = ConnectionType(LedgerEntryNode, 'LedgerEntry');

@InputType()
export class SetQuotaInput {
  @Field()
  tenantSlug: string;

  @Field(() => Float)
  budgetUnits: number;

  @Field(() => Int)
  guaranteedDevices: number;

  @Field(() => Int)
  borrowLimitDevices: number;

  @Field(() => Float, { nullable: true })
  weight?: number;
}


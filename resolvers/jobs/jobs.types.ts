import { GraphQLJSON } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { toGlobalId } from '../../core/global-id';
import { JobStatus, type Job, type JobEvent, type JobResult } from '../../entities';
import { fromMilli } from '../../tenants/quota-ledger';
import { ConnectionType } from '../common/connection';
import { Node } from '../common/node.types';

registerEnumType(JobStatus, { name: 'JobStatus' });

@ObjectType('JobProgress')
export class JobProgressNode {
  @Field(() => Int)
  total: number;

  @Field(() => Int)
  done: number;

  @Field(() => Int)
  failed: number;

  @Field(() => Float, { description: '(done + failed) / total, from 0 to 1.' })
  fraction: number;

  static of(total: number, done: number, failed: number): JobProgressNode {
    return Object.assign(new JobProgressNode(), { total, done, failed, fraction: total > 0 ? (done + failed) / total : 0 });
  }
}

@ObjectType('CostEstimate')
export class CostEstimateNode {
  @Field(() => Float)
  deviceSeconds: number;

  @Field(() => Float)
  computeUnits: number;

  @Field({ description: 'Whether the tenant has the units to hold for this job now.' })
  admissible: boolean;

  @Field(() => String, { nullable: true })
  reason: string | null;

  @Field(() => Float)
  availableUnits: number;

  @Field(() => Float, { description: 'What admission holds: the estimate times the reserve margin.' })
  reserveUnits: number;

  @Field(() => Int, { description: 'Items the job would run.' })
  items: number;
}

@ObjectType('Job', { implements: Node })
export class JobNode extends Node {
  @Field(() => JobStatus)
  status: JobStatus;

  @Field(() => Int)
  priority: number;

  @Field(() => String, { nullable: true })
  pendingReason: string | null;

  @Field(() => JobProgressNode)
  progress: JobProgressNode;

  @Field(() => CostEstimateNode)
  estimate: CostEstimateNode;

  @Field(() => Float)
  reservedUnits: number;

  @Field(() => Float)
  chargedUnits: number;

  @Field(() => Int)
  attempts: number;

  @Field(() => String, { nullable: true })
  error: string | null;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;

  @Field({ description: 'The accelerator kind the job runs on.' })
  accelerator: string;

  uuid: string;
  tenantId: string;
  submittedBy: string | null;
  endpointId: string;
  datasetVersionId: string | null;

  static from(j: Job): JobNode {
    const estimateUnits = fromMilli(j.estimateMilli);
    return Object.assign(new JobNode(), {
      id: toGlobalId('Job', j.id),
      uuid: j.id,
      tenantId: j.tenantId,
      submittedBy: j.submittedBy,
      endpointId: j.endpointId,
      datasetVersionId: j.datasetVersionId,
      accelerator: j.accelerator,
      status: j.status,
      priority: j.priority,
      pendingReason: j.pendingReason,
      progress: JobProgressNode.of(j.totalItems, j.doneItems, j.failedItems),
      estimate: Object.assign(new CostEstimateNode(), {
        deviceSeconds: j.estimateDeviceSeconds, computeUnits: estimateUnits, admissible: true, reason: null,
        availableUnits: 0, reserveUnits: fromMilli(j.reservedMilli), items: j.totalItems,
      }),
      reservedUnits: fromMilli(j.reservedMilli),
      chargedUnits: fromMilli(j.chargedMilli),
      attempts: j.attempts,
      error: j.error,
      createdAt: j.createdAt,
      startedAt: j.startedAt,
      finishedAt: j.finishedAt,
    });
  }
}

@ObjectType('JobResult')
export class JobResultNode {
  @Field(() => Int)
  index: number;

  @Field(() => ID, { nullable: true })
  itemId: string | null;

  @Field(() => GraphQLJSON, { nullable: true })
  output: unknown;

  @Field(() => String, { nullable: true })
  error: string | null;

  static from(r: JobResult): JobResultNode {
    return Object.assign(new JobResultNode(), { index: r.itemIndex, itemId: r.itemId, output: r.output, error: r.error });
  }
}

@ObjectType('JobEvent')
export class JobEventNode {
  @Field(() => ID)
  jobId: string;

  @Field(() => Int)
  seq: number;

  @Field()
  type: string;

  @Field(() => JobStatus)
  status: JobStatus;

  @Field(() => JobProgressNode)
  progress: JobProgressNode;

  @Field(() => String, { nullable: true })
  message: string | null;

  @Field()
  at: Date;

  static from(e: JobEvent): JobEventNode {
    return Object.assign(new JobEventNode(), {
      jobId: toGlobalId('Job', e.jobId), seq: e.seq, type: e.type, status: e.status,
      progress: JobProgressNode.of(e.total, e.done, e.failed), message: e.message, at: e.at,
    });
  }
}

@ObjectType('SubmitJobPayload')
export class SubmitJobPayloadNode {
  @Field(() => JobNode, { nullable: true })
  job: JobNode | null;

  @Field(() => CostEstimateNode)
  estimate: CostEstimateNode;

  @Field()
  dryRun: boolean;
}

export const JobConnection = ConnectionType(JobNode, 'Job');
export const JobResultConnection = ConnectionType(JobResultNode, 'JobResult');

@InputType()
export class SubmitJobInput {
  @Field(() => ID)
  endpointId: string;

  @Field(() => ID, { nullable: true })
  datasetVersionId?: string;

  @Field(() => [GraphQLJSON], { nullable: true })
  inputs?: unknown[];

  @Field(() => Int, { nullable: true })
  priority?: number;

  @Field(() => String, { nullable: true })
  idempotencyKey?: string;

  @Field(() => Boolean, { nullable: true })
  dryRun?: boolean;
}

@InputType()
export class JobFilter {
  @Field(() => [JobStatus], { nullable: true })
  status?: JobStatus[];

  @Field(() => ID, { nullable: true })
  endpointId?: string;
}

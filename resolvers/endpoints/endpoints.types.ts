import { ArgsType, Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import { toGlobalId } from '../../core/global-id';
import { EndpointStatus, type Endpoint } from '../../entities';
import { ConnectionType, PageArgs } from '../common/connection';
import { Node } from '../common/node.types';

registerEnumType(EndpointStatus, { name: 'EndpointStatus' });

@ObjectType('Endpoint', { implements: Node })
export class EndpointNode extends Node {
  @Field()
  name: string;

  @Field(() => EndpointStatus)
  status: EndpointStatus;

  @Field(() => String, { nullable: true, description: 'Why the deployment failed (FAILED only).' })
  failureReason: string | null;

  @Field({ description: 'Accelerator kind, billed by its weight (BILLING_WEIGHTS): cpu, ascend-910b, h200, …' })
  accelerator: string;

  @Field(() => Int)
  minReplicas: number;

  @Field(() => Int)
  maxReplicas: number;

  @Field(() => Int)
  maxBatchSize: number;

  @Field(() => Int)
  maxQueueDelayMs: number;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;

  uuid: string;
  /** The deploying tenant. */
  tenantId: string;
  modelId: string;
  modelVersionId: string;

  static from(e: Endpoint): EndpointNode {
    return Object.assign(new EndpointNode(), {
      id: toGlobalId('Endpoint', e.id), uuid: e.id, tenantId: e.tenantId, modelId: e.modelId, modelVersionId: e.modelVersionId,
      name: e.name, status: e.status, failureReason: e.failureReason, accelerator: e.accelerator, minReplicas: e.minReplicas,
      maxReplicas: e.maxReplicas, maxBatchSize: e.maxBatchSize, maxQueueDelayMs: e.maxQueueDelayMs,
      createdAt: e.createdAt, updatedAt: e.updatedAt,
    });
  }
}

export const EndpointConnection = ConnectionType(EndpointNode, 'Endpoint');

@ObjectType('InferenceResult')
export class InferenceResultNode {
  @Field(() => [JSONResolver], { description: "One per input, in order, in the handler's output format." })
  outputs: unknown[];

  @Field(() => Float, { description: 'Measured model execution time spent on this request.' })
  deviceSeconds: number;

  @Field(() => Float, {
    description: "Compute units charged to the acting tenant: device seconds × the accelerator's billing weight, rounded up to 0.001.",
  })
  computeUnits: number;

  @Field(() => Float, { description: 'Time in the model runtime: decoding, queueing, batching and running.' })
  latencyMs: number;

  @Field(() => Int, { description: 'The largest batch any of the inputs ran in (dynamic batching).' })
  batchSize: number;
}

@ArgsType()
export class EndpointsArgs extends PageArgs {
  @Field(() => [EndpointStatus], { nullable: true, description: 'Only endpoints in these states.' })
  status?: EndpointStatus[];
}

@InputType()
export class DeployEndpointInput {
  @Field(() => ID)
  modelVersionId: string;

  @Field()
  name: string;

  @Field(() => String, { nullable: true, description: "Accelerator kind; default 'cpu'." })
  accelerator?: string | null;

  @Field(() => Int, { nullable: true, description: 'Split mode: the deployment FAILS when fewer live workers of the accelerator kind run (default 1).' })
  minReplicas?: number | null;

  @Field(() => Int, { nullable: true, description: 'Split mode: workers holding the endpoint at most, spread by rendezvous hashing (default minReplicas).' })
  maxReplicas?: number | null;

  @Field(() => Int, { nullable: true, description: 'Requests gathered into one model run at most (default 8).' })
  maxBatchSize?: number | null;

  @Field(() => Int, { nullable: true, description: 'How long a request may wait for companions (default 5 ms; 0: batch only what queued while busy).' })
  maxQueueDelayMs?: number | null;
}

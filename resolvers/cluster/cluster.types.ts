import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

@ObjectType('Device')
export class DeviceNode {
  @Field(() => ID)
  id: string;

  @Field()
  node: string;

  @Field()
  kind: string;

  @Field()
  busy: boolean;

  @Field()
  lastHeartbeatAt: Date;
}

@ObjectType('ClusterQueueEntry', { description: 'Waiting and running shards of one tenant (operators see every tenant; members their own).' })
export class ClusterQueueEntryNode {
  @Field()
  tenantSlug: string;

  @Field(() => Int)
  pendingJobs: number;

  @Field(() => Int)
  runningDevices: number;
}

@ObjectType('Cluster')
export class ClusterNode {
  @Field(() => [DeviceNode])
  devices: DeviceNode[];

  @Field(() => Int)
  pendingJobs: number;

  @Field(() => Int)
  runningJobs: number;

  @Field(() => Float, { description: 'Busy live devices / live devices, from 0 to 1.' })
  utilization: number;

  @Field(() => [ClusterQueueEntryNode])
  queues: ClusterQueueEntryNode[];
}

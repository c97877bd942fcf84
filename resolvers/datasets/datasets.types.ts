import { ArgsType, Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import { toGlobalId } from '../../core/global-id';
import {
  AccessRequestStatus, Modality, Visibility,
  type AccessRequest, type AuditEvent, type Dataset, type DatasetGrant, type DatasetItem, type DatasetVersion,
} from '../../entities';
import { ConnectionType, PageArgs } from '../common/connection';
import { GrantNodeFields, grantFields } from '../common/grant.types';
import { Node } from '../common/node.types';

// Modality and Visibility are shared with the model registry: registered once, here.
registerEnumType(Modality, { name: 'Modality' });
registerEnumType(Visibility, { name: 'Visibility' });
registerEnumType(AccessRequestStatus, { name: 'AccessRequestStatus' });

export enum AccessRequestDirection {
  /** Requests for the acting tenant's datasets, to decide. */
  INCOMING = 'INCOMING',
  /** Requests the acting tenant made. */
  OUTGOING = 'OUTGOING',
}
registerEnumType(AccessRequestDirection, { name: 'AccessRequestDirection' });

@ObjectType('Dataset', { implements: Node })
export class DatasetNode extends Node {
  @Field()
  name: string;

  @Field(() => String, { nullable: true })
  description: string | null;

  @Field(() => Modality)
  modality: Modality;

  @Field(() => String, { nullable: true })
  license: string | null;

  @Field(() => Visibility)
  visibility: Visibility;

  @Field()
  createdAt: Date;

  uuid: string;
  /** The owner. */
  tenantId: string;

  static from(d: Dataset): DatasetNode {
    return Object.assign(new DatasetNode(), {
      id: toGlobalId('Dataset', d.id), uuid: d.id, tenantId: d.tenantId, name: d.name, description: d.description,
      modality: d.modality, license: d.license, visibility: d.visibility, createdAt: d.createdAt,
    });
  }
}

@ObjectType('DatasetVersion', { implements: Node })
export class DatasetVersionNode extends Node {
  @Field(() => Int)
  version: number;

  @Field()
  published: boolean;

  @Field(() => Date, { nullable: true, description: 'When the version was frozen; null while it is a draft.' })
  publishedAt: Date | null;

  @Field(() => Int)
  itemCount: number;

  @Field(() => Float, { description: 'Sum of the items\' blob sizes and UTF-8 text lengths.' })
  sizeBytes: number;

  @Field()
  createdAt: Date;

  uuid: string;
  datasetId: string;
  tenantId: string;

  static from(v: DatasetVersion): DatasetVersionNode {
    return Object.assign(new DatasetVersionNode(), {
      id: toGlobalId('DatasetVersion', v.id), uuid: v.id, datasetId: v.datasetId, tenantId: v.tenantId,
      version: v.version, published: v.publishedAt !== null, publishedAt: v.publishedAt,
      itemCount: v.itemCount, sizeBytes: Number(v.sizeBytes), createdAt: v.createdAt,
    });
  }
}

@ObjectType('DatasetItem')
export class DatasetItemNode {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  text: string | null;

  @Field(() => JSONResolver, { nullable: true })
  metadata: unknown;

  blobId: string | null;

  static from(i: DatasetItem): DatasetItemNode {
    return Object.assign(new DatasetItemNode(), {
      id: toGlobalId('DatasetItem', i.id), text: i.text, metadata: i.metadata ?? null, blobId: i.blobId,
    });
  }
}

@ObjectType('DatasetGrant', { implements: Node })
export class DatasetGrantNode extends GrantNodeFields {
  datasetId: string;

  static from(g: DatasetGrant): DatasetGrantNode {
    return Object.assign(new DatasetGrantNode(), { ...grantFields('DatasetGrant', g), datasetId: g.datasetId });
  }
}

@ObjectType('AccessRequest', { implements: Node })
export class AccessRequestNode extends Node {
  @Field()
  reason: string;

  @Field(() => AccessRequestStatus)
  status: AccessRequestStatus;

  @Field(() => String, { nullable: true })
  note: string | null;

  @Field(() => Date, { nullable: true })
  decidedAt: Date | null;

  @Field()
  createdAt: Date;

  uuid: string;
  datasetId: string;
  /** The dataset's owner. */
  tenantId: string;
  requesterTenantId: string;

  static from(r: AccessRequest): AccessRequestNode {
    return Object.assign(new AccessRequestNode(), {
      id: toGlobalId('AccessRequest', r.id), uuid: r.id, datasetId: r.datasetId, tenantId: r.tenantId,
      requesterTenantId: r.requesterTenantId, reason: r.reason, status: r.status, note: r.note,
      decidedAt: r.decidedAt, createdAt: r.createdAt,
    });
  }
}

@ObjectType('AuditEvent', { description: 'One audited change: who (actor, acting tenant) did what, when.' })
export class AuditEventNode {
  @Field(() => ID)
  id: string;

  @Field()
  action: string;

  @Field()
  at: Date;

  @Field(() => JSONResolver)
  details: unknown;

  actorUserId: string | null;
  tenantId: string;

  static from(e: AuditEvent): AuditEventNode {
    return Object.assign(new AuditEventNode(), {
      id: toGlobalId('AuditEvent', e.id), action: e.action, at: e.at, details: e.details,
      actorUserId: e.actorUserId, tenantId: e.tenantId,
    });
  }
}

export const DatasetConnection = ConnectionType(DatasetNode, 'Dataset');
export const DatasetVersionConnection = ConnectionType(DatasetVersionNode, 'DatasetVersion');
export const DatasetItemConnection = ConnectionType(DatasetItemNode, 'DatasetItem');
export const AccessRequestConnection = ConnectionType(AccessRequestNode, 'AccessRequest');
export const AuditEventConnection = ConnectionType(AuditEventNode, 'AuditEvent');

@InputType()
export class DatasetFilter {
  @Field(() => String, { nullable: true, description: 'Slug of the owning tenant.' })
  owner?: string;

  @Field(() => Modality, { nullable: true })
  modality?: Modality;

  @Field(() => Visibility, { nullable: true })
  visibility?: Visibility;

  @Field(() => String, { nullable: true, description: 'Case-insensitive substring of the name or description.' })
  search?: string;
}

@ArgsType()
export class DatasetsArgs extends PageArgs {
  @Field(() => DatasetFilter, { nullable: true })
  filter?: DatasetFilter;
}

@ArgsType()
export class AccessRequestsArgs extends PageArgs {
  @Field(() => AccessRequestDirection, { defaultValue: AccessRequestDirection.INCOMING })
  direction: AccessRequestDirection;

  @Field(() => AccessRequestStatus, { nullable: true })
  status?: AccessRequestStatus;
}

@InputType()
export class CreateDatasetInput {
  @Field()
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Modality)
  modality: Modality;

  @Field(() => String, { nullable: true })
  license?: string | null;

  @Field(() => Visibility)
  visibility: Visibility;
}

@InputType()
export class DatasetItemInput {
  @Field(() => String, { nullable: true })
  text?: string | null;

  @Field(() => ID, { nullable: true })
  blobId?: string | null;

  @Field(() => JSONResolver, { nullable: true })
  metadata?: unknown;
}

@InputType()
export class CreateDatasetVersionInput {
  @Field(() => ID)
  datasetId: string;

  @Field(() => [DatasetItemInput])
  items: DatasetItemInput[];
}

@InputType()
export class ShareDatasetInput {
  @Field(() => ID)
  datasetId: string;

  @Field()
  tenantSlug: string;

  @Field(() => String, { nullable: true })
  purpose?: string | null;

  @Field(() => Date, { nullable: true })
  expiresAt?: Date | null;
}

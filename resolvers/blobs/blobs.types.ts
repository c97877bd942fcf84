import { Field, Float, ObjectType } from 'type-graphql';
import { toGlobalId } from '../../core/global-id';
import type { Blob } from '../../entities';
import { Node } from '../common/node.types';

@ObjectType('Blob', { implements: Node })
export class BlobNode extends Node {
  @Field()
  sha256: string;

  /** Float: sizes beyond 2^31 bytes do not fit GraphQL's Int. */
  @Field(() => Float)
  size: number;

  @Field()
  contentType: string;

  uuid: string;
  tenantId: string;

  static from(b: Blob): BlobNode {
    return Object.assign(new BlobNode(), {
      id: toGlobalId('Blob', b.id), uuid: b.id, tenantId: b.tenantId, sha256: b.sha256, size: Number(b.size), contentType: b.contentType,
    });
  }
}

/** What POST /v1/blobs answers (contract/README.md, Blobs). */
export interface UploadedBlob {
  id: string;
  sha256: string;
  size: number;
  contentType: string;
}

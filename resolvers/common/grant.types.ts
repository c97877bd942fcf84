import { Field, ObjectType } from 'type-graphql';
import { toGlobalId } from '../../core/global-id';
import type { TenantGrant } from '../../entities/tenant-grant';
import { Node } from './node.types';

/**
 * The fields every grant type shares (DatasetGrant, ModelGrant); each adds the object it grants.
 * Not a GraphQL type of its own: nothing returns it, so the schema holds only the subclasses.
 */
@ObjectType()
export abstract class GrantNodeFields extends Node {
  @Field(() => String, { nullable: true })
  purpose: string | null;

  @Field(() => Date, { nullable: true })
  expiresAt: Date | null;

  @Field()
  createdAt: Date;

  uuid: string;
  granteeTenantId: string;
}

/** The shared fields of a grant node, under the global id of `typeName`. */
export function grantFields(typeName: string, g: TenantGrant): Pick<GrantNodeFields, 'id' | 'uuid' | 'granteeTenantId' | 'purpose' | 'expiresAt' | 'createdAt'> {
  return { id: toGlobalId(typeName, g.id), uuid: g.id, granteeTenantId: g.granteeTenantId, purpose: g.purpose, expiresAt: g.expiresAt, createdAt: g.createdAt };
}

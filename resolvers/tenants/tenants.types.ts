import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { toGlobalId } from '../../core/global-id';
import { TenantRole, type Tenant, type User } from '../../entities';
import { ConnectionType } from '../common/connection';
import { Node } from '../common/node.types';

registerEnumType(TenantRole, { name: 'TenantRole' });

@ObjectType('Tenant', { implements: Node })
export class TenantNode extends Node {
  @Field()
  slug: string;

  @Field()
  name: string;

  @Field()
  createdAt: Date;

  /** Raw uuid for loaders and nested resolvers; not in the schema. */
  uuid: string;

  static from(t: Tenant): TenantNode {
    return Object.assign(new TenantNode(), { id: toGlobalId('Tenant', t.id), uuid: t.id, slug: t.slug, name: t.name, createdAt: t.createdAt });
  }
}

@ObjectType('User', { implements: Node })
export class UserNode extends Node {
  @Field()
  username: string;

  uuid: string;

  static from(u: Pick<User, 'id' | 'username'>): UserNode {
    return Object.assign(new UserNode(), { id: toGlobalId('User', u.id), uuid: u.id, username: u.username });
  }
}

@ObjectType('Membership')
export class MembershipNode {
  @Field(() => TenantRole)
  role: TenantRole;

  tenantId: string;
  userId: string;
  createdAt: Date;

  static from(m: { tenantId: string; userId: string; role: TenantRole; createdAt: Date }): MembershipNode {
    return Object.assign(new MembershipNode(), m);
  }
}

export const TenantConnection = ConnectionType(TenantNode, 'Tenant');
export const MembershipConnection = ConnectionType(MembershipNode, 'Membership');

@ObjectType('Viewer')
export class ViewerNode {
  @Field(() => ID)
  id: string;

  @Field()
  username: string;

  @Field()
  isAllianceAdmin: boolean;
}

@InputType()
export class CreateTenantInput {
  @Field()
  slug: string;

  @Field()
  name: string;
}

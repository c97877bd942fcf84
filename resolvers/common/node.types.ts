import { Field, ID, InterfaceType, ObjectType } from 'type-graphql';

@InterfaceType()
export abstract class Node {
  @Field(() => ID)
  id: string;
}

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field()
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true })
  startCursor: string | null;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

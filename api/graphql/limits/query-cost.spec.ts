import 'reflect-metadata';
import { buildSchema, getIntrospectionQuery, getOperationAST, parse } from 'graphql';
import { AppError, ErrorCode } from '../../../core/app-error';
import { QueryCost } from './query-cost';

// The shapes the estimator keys on: Relay connections (XConnection/XEdge), plain object and
// list fields, scalars, root mutations.
const schema = buildSchema(`
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type User { id: ID! username: String! }
  type Membership { role: String! user: User! tenant: Tenant! }
  type MembershipEdge { cursor: String! node: Membership! }
  type MembershipConnection { edges: [MembershipEdge!]! pageInfo: PageInfo! totalCount: Int! }
  type Tenant { slug: String! members(first: Int, after: String): MembershipConnection! }
  type TenantEdge { cursor: String! node: Tenant! }
  type TenantConnection { edges: [TenantEdge!]! pageInfo: PageInfo! totalCount: Int! }
  type Viewer { username: String! memberships: [Membership!]! }
  type Query { viewer: Viewer! tenants(first: Int, after: String): TenantConnection! tenant(slug: String!): Tenant }
  type Mutation { createTenant(slug: String!): Tenant! }
`);

function cost(query: string, variables?: Record<string, unknown>, max = 1_000_000, mutationCost = 10): number {
  const document = parse(query);
  return new QueryCost(schema, max, mutationCost).measure(document, getOperationAST(document)!, variables);
}

describe('QueryCost', () => {
  it('charges nothing for scalars and one per object lookup', () => {
    expect(cost('{ __typename }')).toBe(0);
    expect(cost('{ viewer { username } }')).toBe(1);
    expect(cost('{ viewer { memberships { role user { username } } } }')).toBe(3);
  });

  it('charges a connection 1 + first × one node, with edges/node/pageInfo free', () => {
    expect(cost('{ tenants(first: 10) { totalCount pageInfo { hasNextPage } edges { cursor node { slug } } } }')).toBe(1);
    expect(cost('{ tenants(first: 10) { edges { node { members(first: 50) { edges { node { user { username } } } } } } } }'))
      .toBe(1 + 10 * (1 + 50 * 1));
  });

  it('uses the resolvers’ default page size when first is absent, and their maximum above it', () => {
    expect(cost('{ tenants { edges { node { members { totalCount } } } } }')).toBe(1 + 20 * 1);
    expect(cost('{ tenants(first: 1000) { edges { node { members { totalCount } } } } }')).toBe(1 + 100 * 1);
  });

  it('reads first from variables', () => {
    const query = 'query($n: Int) { tenants(first: $n) { edges { node { tenant: members(first: 2) { totalCount } } } } }';
    expect(cost(query, { n: 3 })).toBe(1 + 3 * 1);
    expect(cost(query, { n: 30 })).toBe(1 + 30 * 1);
  });

  it('adds the mutation cost to root mutation fields', () => {
    expect(cost('mutation { createTenant(slug: "x") { slug } }', undefined, 1_000_000, 10)).toBe(11);
    expect(cost('mutation { createTenant(slug: "x") { members(first: 5) { edges { node { user { id } } } } } }', undefined, 1_000_000, 10))
      .toBe(10 + 1 + (1 + 5 * 1));
  });

  it('costs only the operation that runs', () => {
    const document = parse('query A { viewer { username } } query B { tenants(first: 50) { edges { node { members(first: 50) { totalCount } } } } }');
    const qc = new QueryCost(schema, 1_000_000, 10);
    expect(qc.measure(document, getOperationAST(document, 'A')!, {})).toBe(1);
    expect(qc.measure(document, getOperationAST(document, 'B')!, {})).toBe(51);
  });

  it('refuses above the maximum with QUERY_TOO_COMPLEX, the cost and the limit', () => {
    const query = '{ tenants(first: 10) { edges { node { members(first: 50) { edges { node { user { username } } } } } } } }';
    expect(cost(query, undefined, 511)).toBe(511);
    let error: AppError | undefined;
    try {
      cost(query, undefined, 510);
    } catch (err) {
      error = err as AppError;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error!.code).toBe(ErrorCode.QUERY_TOO_COMPLEX);
    expect(error!.details).toMatchObject({ limitName: 'cost', cost: 511, limit: 510 });
    expect(error!.message).toMatch(/511.*510/);
  });

  it('answers variables that do not coerce with BAD_USER_INPUT', () => {
    expect(() => cost('query($n: Int) { tenants(first: $n) { totalCount } }', { n: 'ten' }))
      .toThrow(expect.objectContaining({ code: ErrorCode.BAD_USER_INPUT }));
  });

  it('remembers a document’s cost per page size and condition, never across them', () => {
    // One QueryCost and one DocumentNode, as Apollo's document store hands them out.
    const costs = new QueryCost(schema, 1_000, 10);
    const document = parse(`query($n: Int, $members: Boolean!, $slug: String) {
      tenants(first: $n) { edges { node { slug members(first: 2) @include(if: $members) { totalCount } } } }
      tenant(slug: $slug) { slug }
    }`);
    const operation = getOperationAST(document)!;
    const measure = (variables: Record<string, unknown>) => costs.measure(document, operation, variables);
    expect(measure({ n: 3, members: true, slug: 'a' })).toBe(1 + 3 * 1 + 1);
    expect(measure({ n: 3, members: true, slug: 'b' })).toBe(1 + 3 * 1 + 1);
    expect(measure({ n: 30, members: true, slug: 'a' })).toBe(1 + 30 * 1 + 1);
    expect(measure({ n: 30, members: false, slug: 'a' })).toBe(1 + 1);
    expect(measure({ n: 3, members: true, slug: 'c' })).toBe(1 + 3 * 1 + 1);
    // Costing refuses a required argument without a value; so does a remembered cost.
    expect(() => measure({ n: 3, members: true })).toThrow(/"slug" of required type/);
    // Variables are still checked on a remembered cost, and the maximum still applies.
    expect(() => measure({ n: 'three', members: true })).toThrow(AppError);
    expect(() => measure({ n: 3 })).toThrow(/\$members/);
    const strict = new QueryCost(schema, 10, 10);
    expect(strict.measure(document, operation, { n: 5, members: true, slug: 'a' })).toBe(7);
    expect(strict.measure(document, operation, { n: 5, members: true, slug: 'b' })).toBe(7);
    expect(() => strict.measure(document, operation, { n: 50, members: true, slug: 'a' })).toThrow(/exceeds the maximum of 10/);
    expect(() => strict.measure(document, operation, { n: 50, members: true, slug: 'b' })).toThrow(/exceeds the maximum of 10/);
  });

  it('keeps the standard introspection query cheap (its recursion is a validation rule’s job)', () => {
    expect(cost(getIntrospectionQuery())).toBeLessThan(100);
  });
});

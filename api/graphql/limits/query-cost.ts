// The computed cost of an operation, known before anything executes. It is the number of
// lookups the operation can make, counted like GitHub's GraphQL API counts its requests:
//
//   - a connection costs 1 (its page query) + first × the cost of one node's selection,
//     with first defaulting to the page size the resolvers use (20) and capped at their
//     maximum (100), so nested connections multiply: tenants(first: 10) { … members(first: 50)
//     { … user } } costs 1 + 10 × (1 + 50 × 1) = 511;
//   - edges, node and pageInfo are a connection's own structure and cost nothing extra;
//   - any other field returning an object (or a list of them, loaded by one batched query)
//     costs 1 + its selection; a scalar or enum costs 0;
//   - a root mutation field costs the configured mutation cost on top: writes hold locks and
//     write audit rows.
// Introspection costs like any object field; its recursion (types { fields { type { fields …)
// is refused by graphql-js's MaxIntrospectionDepthRule, one of the specified rules that both
// transports run.
//
// The attack it blocks: a short query that fans out into millions of rows through nested
// connections (100 × 100 × 100 …), which depth and alias limits alone cannot see. The same
// number is the rate-limit charge (tenants/rate-limiter.ts), with a minimum of 1 per operation.
import {
  GraphQLError, getNamedType, isLeafType, isObjectType, type DocumentNode, type GraphQLNamedType,
  type GraphQLSchema, type OperationDefinitionNode,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { AppError } from '../../../core/app-error';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../../resolvers/common/connection';
import { queryTooComplex } from './limit-errors';

/** Fields visited while costing: fragment spreads re-expand, so a few kilobytes could otherwise spin the CPU. */
const MAX_COSTED_NODES = 10_000;

function isConnection(type: GraphQLNamedType): boolean {
  return isObjectType(type) && type.name.endsWith('Connection') && 'edges' in type.getFields();
}

function isEdge(type: GraphQLNamedType): boolean {
  return isObjectType(type) && type.name.endsWith('Edge') && 'node' in type.getFields();
}

const CONNECTION_STRUCTURE = new Set(['edges', 'nodes', 'pageInfo']);

export function costEstimator(schema: GraphQLSchema, mutationCost: number): ComplexityEstimator {
  const mutationType = schema.getMutationType();
  return ({ type: parent, field, args, childComplexity }) => {
    const named = getNamedType(field.type);
    if (isConnection(parent) && CONNECTION_STRUCTURE.has(field.name)) return childComplexity;
    if (isEdge(parent) && field.name === 'node') return childComplexity;
    const own = parent === mutationType ? mutationCost : 0;
    if (isConnection(named)) {
      const requested = typeof args.first === 'number' ? args.first : typeof args.last === 'number' ? args.last : DEFAULT_PAGE_SIZE;
      // Out-of-range sizes are refused by the resolver (pageSize) with a clearer message.
      const first = Math.min(MAX_PAGE_SIZE, Math.max(1, requested));
      return own + 1 + first * childComplexity;
    }
    if (isLeafType(named)) return own;
    return own + 1 + childComplexity;
  };
}

export class QueryCost {
  private readonly estimators: ComplexityEstimator[];

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly maxCost: number,
    mutationCost: number,
  ) {
    this.estimators = [costEstimator(schema, mutationCost)];
  }

  /** The operation's cost; throws QUERY_TOO_COMPLEX above the maximum, BAD_USER_INPUT for bad variables. */
  measure(document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> | undefined): number {
    let cost: number;
    try {
      cost = getComplexity({
        schema: this.schema,
        query: document,
        // Only the operation that runs: without a name the library would add up every operation.
        operationName: operation.name?.value,
        variables: variables ?? {},
        estimators: this.estimators,
        maxQueryNodes: MAX_COSTED_NODES,
      });
    } catch (err) {
      if (err instanceof GraphQLError && /maximum allowed number of nodes/.test(err.message)) {
        throw queryTooComplex('nodes', MAX_COSTED_NODES, undefined,
          `the query expands to more than ${MAX_COSTED_NODES} fields through its fragments; simplify it`);
      }
      // Variables that do not coerce: execution would refuse them too, with the same words.
      if (err instanceof GraphQLError) throw AppError.badInput(err.message);
      throw err;
    }
    if (cost > this.maxCost) {
      throw queryTooComplex('cost', this.maxCost, cost,
        `query cost ${cost} exceeds the maximum of ${this.maxCost} per operation; ` +
        'ask for smaller pages (first:) or fewer nested connections');
    }
    return cost;
  }
}

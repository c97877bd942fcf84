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
  GraphQLError, getNamedType, isEnumType, isLeafType, isObjectType, typeFromAST, type DocumentNode,
  type GraphQLNamedType, type GraphQLSchema, type OperationDefinitionNode,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { AppError } from '../../../core/app-error';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../../resolvers/common/connection';
import { queryTooComplex } from './limit-errors';

/** Fields visited while costing: fragment spreads re-expand, so a few kilobytes could otherwise spin the CPU. */
const MAX_COSTED_NODES = 10_000;
/** Costs remembered per document: one per distinct set of cost-relevant variable values. */
const MAX_COSTS_PER_DOCUMENT = 64;
/** Variable types whose values can change a cost: page sizes (Int) and @skip/@include conditions (Boolean). */
const COST_RELEVANT_TYPES = new Set(['Int', 'Float', 'Boolean']);

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
  /**
   * Costing walks the whole document with type information, which was half of the GraphQL work
   * of a small operation such as `infer`. A cost depends only on the document, the operation and
   * the values of the variables that can feed a page size or a @skip/@include condition, so it
   * is remembered under those. Apollo hands the same DocumentNode for the same query text (its
   * document store), so repeated operations hit; anything else is merely not remembered.
   */
  private readonly memo = new WeakMap<DocumentNode, Map<string, number>>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly maxCost: number,
    mutationCost: number,
  ) {
    this.estimators = [costEstimator(schema, mutationCost)];
  }

  /** The operation's cost; throws QUERY_TOO_COMPLEX above the maximum, BAD_USER_INPUT for bad variables. */
  measure(document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> | undefined): number {
    // Variables are checked on every call, remembered cost or not: execution would refuse them
    // too, but only after the operation had been charged.
    const values = getVariableValues(this.schema, operation.variableDefinitions ?? [], variables ?? {});
    if (values.errors) throw AppError.badInput(values.errors[values.errors.length - 1].message);
    const key = this.memoKey(operation, values.coerced);
    const known = this.memo.get(document)?.get(key);
    if (known !== undefined) return this.admissible(known);
    const cost = this.compute(document, operation, variables);
    let costs = this.memo.get(document);
    if (!costs) this.memo.set(document, costs = new Map());
    if (costs.size >= MAX_COSTS_PER_DOCUMENT) costs.clear();
    costs.set(key, cost);
    return this.admissible(cost);
  }

  private memoKey(operation: OperationDefinitionNode, coerced: Record<string, unknown>): string {
    const relevant: unknown[] = [operation.name?.value ?? ''];
    for (const definition of operation.variableDefinitions ?? []) {
      const type = typeFromAST(this.schema, definition.type);
      const named = type && getNamedType(type);
      const name = definition.variable.name.value;
      const value = coerced[name];
      if (named && (COST_RELEVANT_TYPES.has(named.name) || isEnumType(named))) relevant.push(name, value ?? null);
      // Of any other variable only whether it has a value: costing refuses a required argument
      // left without one, and a remembered cost must not skip that refusal.
      else relevant.push(name, value === undefined ? 0 : value === null ? 1 : 2);
    }
    return JSON.stringify(relevant);
  }

  private compute(document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> | undefined): number {
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
    return cost;
  }

  private admissible(cost: number): number {
    if (cost > this.maxCost) {
      throw queryTooComplex('cost', this.maxCost, cost,
        `query cost ${cost} exceeds the maximum of ${this.maxCost} per operation; ` +
        'ask for smaller pages (first:) or fewer nested connections');
    }
    return cost;
  }
}

// Limits on the shape of a document, checked before any field runs, the same on HTTP (Apollo
// validationRules and parseOptions) and WebSocket (onSubscribe). What each one blocks:
//
//   characters  a multi-megabyte query that costs CPU to read and lex before any rule runs;
//   tokens      parser CPU and memory (graphql-js ParseOptions.maxTokens aborts the parse
//               itself, so unlike graphql-armor's maxTokens plugin nothing is parsed twice);
//   depth       deeply nested selections that drive resolvers and the validator into
//               recursion (armor maxDepth, fragments flattened so only fields count);
//   aliases     the same expensive field requested hundreds of times under different names
//               (armor maxAliases; __typename is free);
//   directives  thousands of directives on one field, quadratic in some validation rules
//               (armor maxDirectives).
//
// armor's own cost limit is off: the cost that counts is query-cost.ts's, which knows our
// connections. Its field-suggestion plugin is off too: limit-errors.ts hides suggestions in
// every form, for both transports, in format-error.ts.
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type ParseOptions, type ValidationContext, type ValidationRule } from 'graphql';
import type { LimitsConfig } from '../../../core/config';
import { asGraphQLError, queryTooComplex, type LimitName } from './limit-errors';

/** armor reports "Syntax Error: Query depth limit of 8 exceeded, found 9." and the like. */
const ARMOR_FOUND = /exceeded, found (\d+)/;

const DESCRIPTION: Record<string, string> = {
  depth: 'nesting depth',
  aliases: 'number of aliases',
  directives: 'number of directives',
};

function reportAs(limitName: LimitName, limit: number) {
  return (context: ValidationContext | null, error: GraphQLError) => {
    const found = ARMOR_FOUND.exec(error.message);
    const actual = found ? Number(found[1]) : undefined;
    const appError = queryTooComplex(limitName, limit, actual,
      `the query's ${DESCRIPTION[limitName]}${actual === undefined ? '' : ` (${actual})`} exceeds the limit of ${limit}`);
    context?.reportError(asGraphQLError(appError, { status: 400 }));
  };
}

export function documentValidationRules(limits: LimitsConfig): ValidationRule[] {
  const callbacks = (limitName: LimitName, limit: number) => ({ propagateOnRejection: false, onReject: [reportAs(limitName, limit)] });
  return new ApolloArmor({
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: false },
    maxTokens: { enabled: false },
    // __schema is exempt (the standard introspection query nests ofType eight deep); its
    // recursion is bounded by graphql-js's MaxIntrospectionDepthRule in specifiedRules.
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true, ...callbacks('depth', limits.maxDepth) },
    maxAliases: { n: limits.maxAliases, ...callbacks('aliases', limits.maxAliases) },
    maxDirectives: { n: limits.maxDirectives, ...callbacks('directives', limits.maxDirectives) },
  }).protect().validationRules;
}

export function parseOptions(limits: LimitsConfig): ParseOptions {
  return { maxTokens: limits.maxTokens };
}

/** The character limit, for the HTTP guard and onSubscribe; null when the text is within it. */
export function queryTextError(query: unknown, limits: LimitsConfig): GraphQLError | null {
  if (typeof query !== 'string' || query.length <= limits.maxQueryChars) return null;
  return asGraphQLError(queryTooComplex('characters', limits.maxQueryChars, query.length,
    `the query has ${query.length} characters, more than the limit of ${limits.maxQueryChars}`), { status: 400 });
}

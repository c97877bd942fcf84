// Starts `infer`'s endpoint-and-balance lookup while the operation's rate-limit charge is in
// flight (Apollo runs every plugin's didResolveOperation together), for operations whose only
// root field is `infer` — the hot path of synchronous inference. See InferLookahead in
// resolvers/endpoints/inference.service.ts for why reading early is harmless. The WebSocket
// transport does not look ahead: `infer` then looks up itself, as it does whenever the
// lookahead is missing or failed.
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, valueFromASTUntyped } from 'graphql';
import type { GraphQLContext } from '../../resolvers/context';
import type { InferenceService } from '../../resolvers/endpoints/inference.service';

export function inferLookaheadPlugin(inference: InferenceService): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request, contextValue }) {
          if (operation?.operation !== 'mutation' || operation.selectionSet.selections.length !== 1) return;
          const [field] = operation.selectionSet.selections;
          if (field.kind !== Kind.FIELD || field.name.value !== 'infer' || field.directives?.length) return;
          const argument = field.arguments?.find((a) => a.name.value === 'endpointId');
          const id = argument && valueFromASTUntyped(argument.value, request.variables ?? {});
          if (typeof id === 'string') contextValue.inferLookahead = inference.lookAhead(contextValue.scope, id);
        },
      };
    },
  };
}

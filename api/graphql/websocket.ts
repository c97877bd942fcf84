// graphql-ws on the same /graphql path. Authentication happens once, at connection_init, with
// the same ContextFactory as HTTP; each operation gets fresh loaders; the socket is closed when
// the token it was opened with expires, so a revoked user cannot keep a stream open forever.
import type { GraphQLError, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Context } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../../core/logger';
import type { RequestScope } from '../../tenants/request-scope';
import type { ContextFactory } from './context';
import type { WebSocketLimits } from './limits/websocket-limits';

/** Close codes a client can act on (4400–4499 are graphql-ws's application range). */
export const WS_CLOSE = { UNAUTHORIZED: 4401, FORBIDDEN: 4403, TOKEN_EXPIRED: 4401 } as const;

interface Session {
  scope: RequestScope;
  expiryTimer: NodeJS.Timeout;
}

export function attachGraphQLWebSocket(
  wsServer: WebSocketServer,
  schema: GraphQLSchema,
  contexts: () => ContextFactory,
  log: Logger,
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError,
  /** Query limits, rate limit and slow-consumer guard, the same as HTTP's (api/graphql/limits). */
  limits: WebSocketLimits = {},
) {
  const format = (errors: readonly GraphQLError[]) => errors.map((e) => formatError(e.toJSON(), e));
  const sessions = new WeakMap<object, Session>();
  const disposable = useServer(
    {
      schema,
      onConnect: async (ctx: Context<Record<string, unknown> | undefined>) => {
        const params = ctx.connectionParams ?? {};
        try {
          const { scope, identity } = await contexts().authenticate(params.authorization ?? params.Authorization, params.tenant);
          const socket = (ctx.extra as { socket: { close(code: number, reason: string): void } }).socket;
          const remaining = Math.max(0, identity.expiresAt.getTime() - Date.now());
          const expiryTimer = setTimeout(() => socket.close(WS_CLOSE.TOKEN_EXPIRED, 'token expired'), remaining);
          expiryTimer.unref();
          sessions.set(ctx, { scope, expiryTimer });
          return true;
        } catch (err) {
          log.debug({ err: (err as Error).message }, 'websocket connection refused');
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onClose: (ctx) => {
        const session = sessions.get(ctx);
        if (session) clearTimeout(session.expiryTimer);
      },
      context: (ctx) => contexts().forScope(sessions.get(ctx)!.scope),
      onSubscribe: limits.prepare && ((ctx, _id, payload) => {
        const { scope } = sessions.get(ctx)!;
        return limits.prepare!(payload, scope, () => contexts().forScope(scope), Object.keys(ctx.subscriptions).length);
      }),
      // The same error contract as HTTP: codes, no stack traces.
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: format(result.errors) } : undefined,
    },
    wsServer,
  );
  if (limits.watchSocket) wsServer.on('connection', (socket) => limits.watchSocket!(socket));
  return {
    async dispose() {
      for (const client of wsServer.clients) client.close(1001, 'server shutting down');
      await disposable.dispose();
    },
  };
}

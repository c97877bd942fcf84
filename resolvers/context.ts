// What every resolver receives. Built per request (HTTP) or per operation (WebSocket) by
// api/graphql/context.ts; loaders never outlive the request, so no row leaks between callers.
import type { RequestScope } from '../tenants/request-scope';
import type { Loaders } from './loaders';

export interface GraphQLContext {
  scope: RequestScope;
  loaders: Loaders;
  requestId: string;
}

// What every resolver receives. Built per request (HTTP) or per operation (WebSocket) by
// api/graphql/context.ts; loaders never outlive the request, so no row leaks between callers.
import type { RequestScope } from '../tenants/request-scope';
import type { InferLookahead } from './endpoints/inference.service';
import type { JobEventStream } from './jobs/job-event-stream';
import type { Loaders } from './loaders';
import type { QuotaStream } from './quota/quota-stream';

export interface GraphQLContext {
  scope: RequestScope;
  loaders: Loaders;
  requestId: string;
  /** Live streams (one per process); subscriptions reach them here, not through globals. */
  streams: Streams;
  /** Set by api/graphql/infer-lookahead.ts on an `infer` operation, before it executes. */
  inferLookahead?: InferLookahead;
}

export interface Streams {
  jobEvents: JobEventStream;
  quota: QuotaStream;
}

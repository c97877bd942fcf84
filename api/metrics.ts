// Prometheus metrics on a registry per platform instance (tests run several in one process).
import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly graphqlRequests = new Counter({
    name: 'alliance_graphql_requests_total',
    help: 'GraphQL operations by operation name and type',
    labelNames: ['operation', 'type'] as const,
    registers: [this.registry],
  });
  readonly graphqlDuration = new Histogram({
    name: 'alliance_graphql_request_duration_seconds',
    help: 'GraphQL operation duration',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly graphqlErrors = new Counter({
    name: 'alliance_graphql_errors_total',
    help: 'GraphQL errors by contract code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }

  graphqlPlugin(): ApolloServerPlugin {
    const metrics = this;
    return {
      async requestDidStart() {
        const started = process.hrtime.bigint();
        return {
          async willSendResponse(rc) {
            // Unnamed operations are grouped; a name is bounded to keep label cardinality sane.
            const operation = (rc.operationName ?? rc.operation?.name?.value ?? 'anonymous').slice(0, 64);
            const type = rc.operation?.operation ?? 'unknown';
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            metrics.graphqlRequests.inc({ operation, type });
            metrics.graphqlDuration.observe({ operation, type }, seconds);
            const body = rc.response.body;
            const errors = body.kind === 'single' ? body.singleResult.errors ?? [] : [];
            for (const e of errors) metrics.graphqlErrors.inc({ code: String(e.extensions?.code ?? 'INTERNAL') });
          },
        };
      },
    };
  }
}

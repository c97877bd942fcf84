// Prometheus metrics on a registry per platform instance (tests run several in one process).
import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InferenceObserver } from '../model-runtime/runtime/inference-runtime';

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

  // Model endpoints, labelled "<owner slug>/<endpoint name>" (bounded by the deployed endpoints).
  readonly inferenceRequests = new Counter({
    name: 'alliance_inference_requests_total',
    help: 'infer calls reaching the model runtime, per endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly inferenceErrors = new Counter({
    name: 'alliance_inference_errors_total',
    help: 'failed infer calls per endpoint by engine error code (BAD_INPUT, OVERLOADED, STOPPED, INTERNAL)',
    labelNames: ['endpoint', 'code'] as const,
    registers: [this.registry],
  });
  readonly inferenceItemErrors = new Counter({
    name: 'alliance_inference_item_errors_total',
    help: 'items that failed inside a model batch, per endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly inferenceQueueSeconds = new Histogram({
    name: 'alliance_inference_queue_seconds',
    help: 'longest wait of a batch\'s items in the dynamic batcher, per endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly inferenceRunSeconds = new Histogram({
    name: 'alliance_inference_run_seconds',
    help: 'model run time of a batch, per endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly inferenceBatchSize = new Histogram({
    name: 'alliance_inference_batch_size',
    help: 'items per model batch (dynamic batching), per endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  // The request path's SQL functions (tenants/tenant-database.ts callScoped): each is one round
  // trip that a request waits for (waited="yes"), so their times are most of what the platform
  // adds to a call; a lease or hold topped up ahead of need is waited="no".
  readonly dbHotPathSeconds = new Histogram({
    name: 'alliance_db_hot_path_seconds',
    help: 'round trips of the request path\'s SQL functions (rate-limit lease, infer lookup, quota hold take, blob lookup); waited="no" for leases and holds topped up ahead of need, which no request waits for',
    labelNames: ['function', 'waited'] as const,
    buckets: [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor(defaults = true) {
    // The event-loop delay histogram samples on a timer: prom-client's default 10 ms woke the API
    // thread 100 times a second, busy or idle. On a virtual machine each wake of an idle vCPU is
    // a VM exit, and while a model runs the timer preempts its intra-op threads on the shared
    // cores. At 100 ms every stall of 100 ms or more is still recorded, shorter ones by chance.
    if (defaults) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }

  /** Feeds the inference metrics from the runtime (the engine's batch observer hook). */
  inferenceObserver(): InferenceObserver {
    return {
      batch: (endpoint, e) => {
        this.inferenceBatchSize.observe({ endpoint }, e.batchSize);
        this.inferenceQueueSeconds.observe({ endpoint }, e.queueMs / 1000);
        this.inferenceRunSeconds.observe({ endpoint }, e.runMs / 1000);
        if (e.errors > 0) this.inferenceItemErrors.inc({ endpoint }, e.errors);
      },
      request: (endpoint, e) => {
        this.inferenceRequests.inc({ endpoint });
        if (e.code) this.inferenceErrors.inc({ endpoint, code: e.code });
      },
    };
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

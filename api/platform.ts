// The composition root: builds every part from the config, wires them, and tears them down in
// reverse order. all-in-one mode and the test harness both start the platform through here.
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import { pinoHttp } from 'pino-http';
import type { DataSource } from 'typeorm';
import { WebSocketServer } from 'ws';
import type { Config } from '../core/config';
import { startEmbeddedPostgres } from '../core/embedded-postgres';
import { createLogger, type Logger } from '../core/logger';
import { realmFilePath } from '../core/paths';
import type { GraphQLContext } from '../resolvers/context';
import { BlobsService } from '../resolvers/blobs/blobs.service';
import { DatasetSharingService } from '../resolvers/datasets/dataset-sharing.service';
import { DatasetVersionsService } from '../resolvers/datasets/dataset-versions.service';
import { DatasetsService } from '../resolvers/datasets/datasets.service';
import { EndpointsService } from '../resolvers/endpoints/endpoints.service';
import { InferenceService } from '../resolvers/endpoints/inference.service';
import { InferTargetCache } from '../resolvers/endpoints/infer-target-cache';
import { ModelsService } from '../resolvers/models/models.service';
import { EndpointDeployer } from '../model-runtime/runtime/endpoint-deployer';
import { PerItemCostTracker } from '../model-runtime/runtime/per-item-cost';
import { ClusterService } from '../resolvers/cluster/cluster.service';
import { JobsService } from '../resolvers/jobs/jobs.service';
import { QuotaService } from '../resolvers/quota/quota.service';
import { TenantsService } from '../resolvers/tenants/tenants.service';
import { UsageService } from '../resolvers/usage/usage.service';
import { AuditLog } from '../tenants/audit-log';
import { FilesystemBlobStore } from '../tenants/blob-store/filesystem-blob-store';
import { createDataSource, ensureDatabase, migrateWithLock } from '../tenants/database';
import { APP_ROLE, SYSTEM_ROLE, enableRoleLogins, secretFromDataDir, urlForRole } from '../tenants/database-roles';
import { IdentityService } from '../tenants/identity';
import { QuotaHolds } from '../tenants/quota-holds';
import { QuotaLedger } from '../tenants/quota-ledger';
import { TenantDatabase } from '../tenants/tenant-database';
import { RateLimitService } from '../resolvers/rate-limit/rate-limit.service';
import { RateLimiter } from '../tenants/rate-limiter';
import { createQueryLimits } from './graphql/limits/query-limits';
import { createDevRealm, type DevRealm } from './auth/dev-realm';
import { createTokenVerifier } from './auth/token-verifier';
import { blobRoutes } from './blobs/blob-routes';
import { seedDemoCatalog, seedDemoData } from './demo-seed';
import { ContextFactory } from './graphql/context';
import { createErrorFormatter } from './graphql/format-error';
import { buildAppSchema } from './graphql/schema';
import { ServiceContainer } from './graphql/service-container';
import { attachGraphQLWebSocket } from './graphql/websocket';
import { inferLookaheadPlugin } from './graphql/infer-lookahead';
import { graphqlJsonBody } from './graphql/json-body';
import { datasetItemInput, RuntimeShardRunner } from '../model-runtime/worker/runtime-shard-runner';
import { healthRoutes } from './health';
import { dashboardRoutes } from './dashboard-routes';
import { startJobsSubsystem, type JobsSubsystem } from './jobs-subsystem';
import { Metrics } from './metrics';
import { createModelRuntime } from './model-runtime-setup';
import type { InferenceRuntime } from '../model-runtime/runtime/inference-runtime';

export interface Platform {
  config: Config;
  /** http://localhost:PORT */
  url: string;
  port: number;
  /** {KEYCLOAK_URL}/realms/{realm}: the token issuer. */
  issuer: string;
  devRealm?: DevRealm;
  db: TenantDatabase;
  metrics: Metrics;
  log: Logger;
  jobs: JobsSubsystem;
  schema: GraphQLSchema;
  /** The model runtime of this process and the endpoint lifecycle over it (issue 4). */
  models: { runtime: InferenceRuntime; deployer: EndpointDeployer };
  /** The endpoint as a caller's tenant sees it, cached in this process for `infer`. */
  inferTargetCache: InferTargetCache;
  /** This process's prepaid holds of tenants' budgets for synchronous inference; `flush` settles them. */
  holds: QuotaHolds;
  close(): Promise<void>;
}

export interface PlatformOptions {
  log?: Logger;
  /** Seed the contract's demo tenants and users on an empty database (all-in-one default). */
  seedDemo?: boolean;
}

interface DatabaseUrls {
  app: string;
  system: string;
  /** Only when this process has the owner connection (it then installs the queue's schema). */
  owner?: string;
}

async function prepareDatabase(config: Config, log: Logger, closers: (() => Promise<void>)[]): Promise<DatabaseUrls> {
  let ownerUrl = config.databaseUrl;
  if (!ownerUrl && !config.appDatabaseUrl) {
    const pg = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPostgresPort,
      log: (line) => log.debug({ postgres: line }),
    });
    closers.push(() => pg.stop());
    log.info({ clusterDir: pg.clusterDir, port: pg.port }, 'embedded PostgreSQL started');
    ownerUrl = await ensureDatabase(pg.url, 'alliance');
  }
  if (ownerUrl) {
    const applied = await migrateWithLock(ownerUrl);
    if (applied.length) log.info({ applied }, 'migrations applied');
  }
  const appPassword = config.appDatabasePassword ?? secretFromDataDir(config.dataDir, 'db-app');
  const systemPassword = config.systemDatabasePassword ?? secretFromDataDir(config.dataDir, 'db-system');
  if (ownerUrl && !config.appDatabaseUrl) {
    await enableRoleLogins(ownerUrl, { [APP_ROLE]: appPassword, [SYSTEM_ROLE]: systemPassword });
  }
  const base = ownerUrl ?? config.appDatabaseUrl!;
  return {
    app: config.appDatabaseUrl ?? urlForRole(base, APP_ROLE, appPassword),
    system: config.systemDatabaseUrl ?? urlForRole(base, SYSTEM_ROLE, systemPassword),
    owner: ownerUrl,
  };
}

export async function startPlatform(config: Config, opts: PlatformOptions = {}): Promise<Platform> {
  const log = opts.log ?? createLogger(config.logLevel);
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      const started = Date.now();
      await close().catch((err) => log.error({ err }, 'shutdown step failed'));
      log.debug({ ms: Date.now() - started }, 'shutdown step done');
    }
    closers.length = 0;
  };
  try {
    const urls = await prepareDatabase(config, log, closers);
    const appDs = createDataSource(urls.app, { applicationName: 'alliance-hub-app' });
    const systemDs = createDataSource(urls.system, { applicationName: 'alliance-hub-system', poolSize: 5 });
    await appDs.initialize();
    closers.push(() => appDs.destroy());
    await systemDs.initialize();
    closers.push(() => systemDs.destroy());
    const metrics = new Metrics();
    const db = new TenantDatabase(appDs, systemDs, (fn, seconds, ahead) =>
      metrics.dbHotPathSeconds.observe({ function: fn, waited: ahead ? 'no' : 'yes' }, seconds));

    if (opts.seedDemo ?? config.mode === 'all-in-one') {
      const seeded = await seedDemoData(db, realmFilePath());
      if (seeded) log.info('demo tenants and users seeded');
    }

    const audit = new AuditLog();
    const blobStore = new FilesystemBlobStore(path.join(config.dataDir, 'blobs'));
    const blobs = new BlobsService(db, blobStore, config.blobMaxBytes);
    const ledger = new QuotaLedger();
    const identities = new IdentityService(db);
    // Models and endpoints: which runtime this process uses depends on its mode (model-runtime-setup.ts).
    const { runtime, inferenceHost } = createModelRuntime(config, { db, blobs, metrics, log });
    closers.push(() => runtime.close());
    // A split-mode worker holds only the endpoints it is in line for among its peers.
    const deployer = new EndpointDeployer(db, runtime, log, inferenceHost);
    const costs = new PerItemCostTracker(db, log);
    closers.push(() => costs.close());
    // Synchronous inference is charged from prepaid holds of tenants' budgets, settled in the background.
    const holds = new QuotaHolds(db, ledger, log, { ttlMs: config.inference.quotaHoldTtlMs });
    holds.start();
    const quotas = new QuotaService(db, ledger, audit, holds);
    const jobsSubsystem = await startJobsSubsystem({
      config, urls, db, ledger, quotas, holds, log, schedule: config.mode !== 'worker',
      // This process is a worker node too, except in split mode's api processes.
      worker: config.mode === 'api' ? undefined : { runner: new RuntimeShardRunner(db, runtime, deployer), itemInput: datasetItemInput(blobStore) },
    });
    closers.push(() => jobsSubsystem.close());
    closers.push(() => holds.stop()); // before the jobs subsystem and the database: its last settlements
    identities.followChanges(jobsSubsystem.listener);
    // Follows the catalog's change notices on the same LISTEN connection (CHANNELS.catalog).
    const inferTargetCache = new InferTargetCache(db, jobsSubsystem.listener);
    const rateLimiter = new RateLimiter(db, config.limits.rateLimitPointsPerHour, { changes: jobsSubsystem.listener, log });
    closers.push(() => rateLimiter.close());
    const inference = new InferenceService(inferTargetCache, runtime, holds, blobs, costs, {
      billingWeights: config.billingWeights, maxInputs: config.inference.maxInputs, maxInputBlobBytes: 100 * 1024 ** 2,
    });
    const container = new ServiceContainer()
      .register(TenantDatabase, db)
      .register(AuditLog, audit)
      .register(BlobsService, blobs)
      .register(DatasetsService, new DatasetsService(db, audit))
      .register(DatasetVersionsService, new DatasetVersionsService(db, audit))
      .register(DatasetSharingService, new DatasetSharingService(db, audit))
      .register(TenantsService, new TenantsService(db, audit, identities))
      .register(RateLimitService, new RateLimitService(db, rateLimiter, audit))
      .register(QuotaLedger, ledger)
      .register(QuotaService, quotas)
      .register(ModelsService, new ModelsService(db, audit, blobs, runtime, { maxModelBytes: config.blobMaxBytes }, inferTargetCache))
      .register(EndpointsService, new EndpointsService(db, audit, deployer, { billingWeights: config.billingWeights }, inferTargetCache))
      .register(InferenceService, inference)
      .register(JobsService, jobsSubsystem.jobs)
      .register(ClusterService, new ClusterService(db, config.jobs))
      .register(UsageService, new UsageService(db, {}, holds));
    const schema = await buildAppSchema(container);

    if ((opts.seedDemo ?? config.mode === 'all-in-one') && config.inference.demoModels) {
      const models = await seedDemoCatalog(db, blobs, runtime);
      if (models.length) log.info({ models }, 'demo models seeded');
    }
    if (config.mode !== 'api') {
      // Sessions do not survive a restart: endpoints that should be serving are loaded and
      // warmed before the first request can reach them.
      const ready = await deployer.redeployAll();
      if (ready) log.info({ ready }, 'endpoints deployed');
    }
    if (inferenceHost) {
      // Warm, so API processes may send calls here now.
      const host = inferenceHost;
      await host.start(deployer);
      closers.push(() => host.stop());
    }

    const app = express();
    app.disable('x-powered-by');
    app.use(pinoHttp({
      logger: log,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
      // Lean request and response entries: pino-http binds the serialised request to a child
      // logger on every request, and the standard serialiser's headers (with their redaction)
      // were a fifth of a millisecond of each. Headers are no help in these logs anyway.
      wrapSerializers: false,
      serializers: {
        req: (req: http.IncomingMessage & { id?: unknown }) => ({ id: req.id, method: req.method, url: req.url, remoteAddress: req.socket?.remoteAddress }),
        res: (res: http.ServerResponse) => ({ statusCode: res.statusCode }),
      },
    }));
    // No ETags computed over every response body: GraphQL answers POSTs, which no cache reuses;
    // blobs and dashboard files set their own.
    app.set('etag', false);
    app.use(healthRoutes(() => appDs as DataSource, metrics));
    app.use(dashboardRoutes({ keycloakUrl: config.keycloakUrl, realm: config.keycloakRealm }));

    const httpServer = http.createServer(app);
    // Idle keep-alive connections are closed by the client first: a server that closes one while
    // a client is already sending on it makes that request fail with ECONNRESET (undici keeps
    // idle sockets 4 s; load balancers commonly 60 s, so the server waits longer than both).
    httpServer.keepAliveTimeout = 65_000;
    const origin = { value: config.publicUrl ?? '' };
    const devRealm = config.keycloakUrl ? undefined : await createDevRealm({
      realmFile: realmFilePath(),
      keyDir: path.join(config.dataDir, 'realm-keys'),
      issuerOrigin: () => origin.value,
    });
    if (devRealm) app.use(devRealm.router);

    const contexts: { factory?: ContextFactory } = {};
    const formatError = createErrorFormatter(log, config.env === 'development', { hideSuggestions: config.limits.hideSuggestions });
    const limits = createQueryLimits({ config, schema, rateLimiter, formatError, metrics, log });
    const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: config.bodyLimitBytes });
    const wsCleanup = attachGraphQLWebSocket(wsServer, schema, () => contexts.factory!, log, formatError, limits.websocket);
    const apollo = new ApolloServer<GraphQLContext>({
      schema,
      formatError,
      includeStacktraceInErrorResponses: false,
      // Shutdown is ours (api/main.ts): Apollo's own signal handler would race it.
      stopOnTerminationSignals: false,
      introspection: config.limits.introspection,
      ...limits.apolloOptions,
      plugins: [
        ...limits.apolloPlugins,
        inferLookaheadPlugin(inference),
        ApolloServerPluginDrainHttpServer({ httpServer }),
        metrics.graphqlPlugin(),
        { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
      ],
    });
    await apollo.start();
    closers.push(() => apollo.stop());

    app.use('/graphql', limits.requestDeadline, ...graphqlJsonBody(config.bodyLimitBytes), limits.httpGuard, expressMiddleware(apollo, {
      context: async ({ req }) => {
        const { scope } = await contexts.factory!.authenticate(req.headers.authorization, req.headers['x-tenant']);
        return contexts.factory!.forScope(scope, String(req.id));
      },
    }));
    app.use('/graphql', limits.httpErrorHandler);
    app.use(blobRoutes({ authenticate: (authorization, tenant) => contexts.factory!.authenticate(authorization, tenant), blobs, log }));

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => resolve());
    });
    const port = (httpServer.address() as { port: number }).port;
    const url = `http://localhost:${port}`;
    origin.value = config.publicUrl ?? url;
    const issuer = `${config.keycloakUrl ?? origin.value}/realms/${config.keycloakRealm}`;
    contexts.factory = new ContextFactory(
      createTokenVerifier({ issuer, audience: config.keycloakAudience, jwksRefetchCooldownSec: config.jwksCooldownSec, cacheSeconds: config.tokenCacheSec }),
      identities,
      db,
      jobsSubsystem.streams,
    );
    log.info({ url, issuer }, 'alliance-hub listening');

    return { config, url, port, issuer, devRealm, db, metrics, log, jobs: jobsSubsystem, models: { runtime, deployer }, inferTargetCache, holds, schema, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

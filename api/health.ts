import type { Router } from 'express';
import express from 'express';
import type { DataSource } from 'typeorm';
import { pendingMigrations } from '../tenants/database';
import type { Metrics } from './metrics';

export function healthRoutes(app: () => DataSource, metrics: Metrics): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Ready = the database answers and every migration this build knows is applied.
  router.get('/readyz', async (_req, res) => {
    try {
      const pending = await pendingMigrations(app());
      if (pending.length > 0) {
        res.status(503).json({ status: 'migrations pending', pending });
        return;
      }
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'database unreachable' });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}

// GET /dashboard: the partner dashboard (contract/README.md). A static page — plain HTML and a
// few ES modules from dashboard/ — that signs in against the realm and then speaks GraphQL over
// HTTP and graphql-ws like any other client. Nothing is built or fetched at run time: ECharts and
// graphql-ws's browser client are served from node_modules (installed with the API), and the
// Content-Security-Policy lets the page reach nothing but this origin and the realm's token
// endpoint (no CDN, no fonts or images from anywhere else).
import fs from 'node:fs';
import path from 'node:path';
import express, { type Response, type Router } from 'express';
import { projectRoot } from '../core/paths';

export interface DashboardOptions {
  /** A real Keycloak's origin; unset means the embedded realm on this origin. */
  keycloakUrl?: string;
  realm: string;
}

/** Page files (dashboard/) and vendor modules, by the name the page imports them under. */
const PAGE_FILES = new Set(['app.js', 'i18n.js', 'api.js', 'charts.js', 'dashboard.css']);
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

export function dashboardRoutes(opts: DashboardOptions): Router {
  const root = projectRoot();
  const pageDir = path.join(root, 'dashboard');
  const echartsFile = require.resolve('echarts/dist/echarts.esm.min.mjs', { paths: [root] });
  // graphql-ws's browser build: dist/client.js and the chunk it imports, as ES modules.
  const graphqlWsDir = path.dirname(require.resolve('graphql-ws/package.json', { paths: [root] }));
  const graphqlWsDist = path.join(graphqlWsDir, 'dist');
  const realmOrigin = opts.keycloakUrl ? new URL(opts.keycloakUrl).origin : null;
  const tokenUrl = `${opts.keycloakUrl ? opts.keycloakUrl.replace(/\/+$/, '') : ''}/realms/${opts.realm}/protocol/openid-connect/token`;
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    // ECharts positions its tooltip through element.style (CSSOM), which 'self' allows.
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${realmOrigin ? ` ${realmOrigin}` : ''}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
  ].join('; ');

  const router = express.Router();
  const secure = (res: Response) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };
  const send = (res: Response, file: string, cache: string) => {
    secure(res);
    res.setHeader('Content-Type', TYPES[path.extname(file)] ?? 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', cache);
    fs.createReadStream(file).on('error', () => res.status(404).end()).pipe(res);
  };

  router.get('/dashboard', (_req, res) => send(res, path.join(pageDir, 'index.html'), 'no-cache'));
  router.get('/dashboard/', (_req, res) => res.redirect(301, '/dashboard'));
  router.get('/dashboard/config.json', (_req, res) => {
    secure(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.json({ tokenUrl, clientId: 'alliance-cli', graphqlPath: '/graphql' });
  });
  router.get('/dashboard/:file', (req, res) => {
    const file = String(req.params.file);
    if (!PAGE_FILES.has(file)) return void res.status(404).end();
    send(res, path.join(pageDir, file), 'no-cache');
  });
  router.get('/dashboard/vendor/echarts.js', (_req, res) => send(res, echartsFile, 'public, max-age=86400'));
  router.get('/dashboard/vendor/graphql-ws/:file', (req, res) => {
    const file = String(req.params.file);
    // Only the package's own top-level ES modules: no path can leave dist/.
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.js$/.test(file) || !fs.existsSync(path.join(graphqlWsDist, file))) return void res.status(404).end();
    send(res, path.join(graphqlWsDist, file), 'public, max-age=86400');
  });
  return router;
}

// Counts what the platform sends to PostgreSQL, at the driver: every pg.Client#query call of this
// process (TypeORM's pools and pg-boss both go through it), by the connection's role, so request
// work (alliance_app) is told apart from the scheduler, the workers and the queue (alliance_system,
// the owner). A statement is one round trip; it is classified by its text:
//   - transaction control: BEGIN / START TRANSACTION / COMMIT / ROLLBACK / SAVEPOINT …
//   - settings: withTenant's `SELECT set_config('app.user_id', …)`
//   - data: everything else (the queries a resolver or loader asked for)
// "Queries per request" in the benchmarks is data statements per request; the others are reported
// beside it, since they cost a round trip each too.
// Installed in the process that runs the platform (bench/harness/platform-process.ts), before any
// query runs; patching the prototype covers clients created before and after.
import { Client } from 'pg';

export type StatementKind = 'control' | 'settings' | 'data';

export interface RoleCounts {
  statements: number;
  /** BEGIN or START TRANSACTION: one per withTenant / withIdentity / withSystem. */
  transactions: number;
  settings: number;
  data: number;
}

export interface CapturedStatement {
  role: string;
  /** The backend's process id: statements of one connection, in order, form its transactions. */
  connection: number;
  kind: StatementKind;
  text: string;
  values: unknown[];
}

export interface StatementCounter {
  /** A copy of the counters so far, per role. */
  counts(): Record<string, RoleCounts>;
  /** Starts recording every statement (text and parameters) until `stopCapture`. */
  startCapture(): void;
  stopCapture(): CapturedStatement[];
}

const CONTROL = /^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|SET\s+TRANSACTION)\b/i;
const SETTINGS = /^\s*SELECT\s+set_config\(/i;

export function classify(text: string): StatementKind {
  if (CONTROL.test(text)) return 'control';
  if (SETTINGS.test(text)) return 'settings';
  return 'data';
}

let installed: StatementCounter | undefined;

export function installStatementCounter(): StatementCounter {
  if (installed) return installed;
  const byRole = new Map<string, RoleCounts>();
  let capture: CapturedStatement[] | null = null;
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function countedQuery(this: { user?: string; processID?: number }, config: unknown, values?: unknown, callback?: unknown) {
    const text = typeof config === 'string' ? config : (config as { text?: string } | null)?.text ?? '';
    const role = this.user ?? '?';
    const kind = classify(text);
    let c = byRole.get(role);
    if (!c) byRole.set(role, (c = { statements: 0, transactions: 0, settings: 0, data: 0 }));
    c.statements++;
    if (kind === 'control' && /^\s*(BEGIN|START)/i.test(text)) c.transactions++;
    if (kind === 'settings') c.settings++;
    if (kind === 'data') c.data++;
    if (capture) {
      const params = Array.isArray(values) ? values : ((config as { values?: unknown[] } | null)?.values ?? []);
      capture.push({ role, connection: this.processID ?? 0, kind, text, values: params });
    }
    return original.call(this, config, values, callback);
  };
  installed = {
    counts: () => Object.fromEntries([...byRole].map(([role, c]) => [role, { ...c }])),
    startCapture: () => { capture = []; },
    stopCapture: () => {
      const out = capture ?? [];
      capture = null;
      return out;
    },
  };
  return installed;
}

/** `after − before` for one role (zeros where a role had no statements). */
export function countsDelta(before: Record<string, RoleCounts>, after: Record<string, RoleCounts>, role: string): RoleCounts {
  const a = after[role] ?? { statements: 0, transactions: 0, settings: 0, data: 0 };
  const b = before[role] ?? { statements: 0, transactions: 0, settings: 0, data: 0 };
  return { statements: a.statements - b.statements, transactions: a.transactions - b.transactions, settings: a.settings - b.settings, data: a.data - b.data };
}

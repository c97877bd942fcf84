// One dedicated connection per process that LISTENs for the platform's notifications. If the
// connection drops (PostgreSQL restart, network), it reconnects with backoff, LISTENs again and
// tells its subscribers to catch up from the tables — NOTIFY is fire-and-forget, so anything
// sent while we were away exists only in the rows.
import { Client } from 'pg';
import type { Logger } from '../core/logger';

type Handler = (payload: string) => void;

export class PgListener {
  private client: Client | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly reconnectHandlers = new Set<() => void>();
  private stopped = false;
  private backoffMs = 100;

  constructor(
    private readonly url: string,
    private readonly channels: readonly string[],
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  on(channel: string, handler: Handler): () => void {
    if (!this.channels.includes(channel)) throw new Error(`not listening on ${channel}`);
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set!.delete(handler);
  }

  /** Called after a dropped connection is back: re-read what may have been missed. */
  onReconnect(handler: () => void): () => void {
    this.reconnectHandlers.add(handler);
    return () => this.reconnectHandlers.delete(handler);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /** For fault tests: the backend pid of the LISTEN connection. */
  async backendPid(): Promise<number | null> {
    if (!this.client) return null;
    const res = await this.client.query('SELECT pg_backend_pid() AS pid');
    return res.rows[0].pid;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.url, application_name: 'alliance-hub-listener', keepAlive: true });
    client.on('notification', (msg) => {
      for (const handler of this.handlers.get(msg.channel) ?? []) {
        try {
          handler(msg.payload ?? '');
        } catch (err) {
          this.log.error({ err, channel: msg.channel }, 'notification handler failed');
        }
      }
    });
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'LISTEN connection lost; reconnecting');
      void this.reconnect(client);
    });
    client.on('end', () => void this.reconnect(client));
    await client.connect();
    for (const channel of this.channels) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
    this.client = client;
    this.backoffMs = 100;
  }

  private async reconnect(dead: Client): Promise<void> {
    if (this.stopped || this.client !== dead) return;
    this.client = null;
    dead.removeAllListeners();
    await dead.end().catch(() => undefined);
    while (!this.stopped) {
      await new Promise((r) => setTimeout(r, this.backoffMs));
      try {
        await this.connect();
        this.log.info('LISTEN connection restored; subscribers catch up');
        for (const handler of this.reconnectHandlers) handler();
        return;
      } catch (err) {
        this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
        this.log.warn({ err: (err as Error).message, retryInMs: this.backoffMs }, 'LISTEN reconnect failed');
      }
    }
  }
}

// A small client for the alliance-hub API: GraphQL over HTTP and streaming blob uploads.
import fs from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { CliError, type Connection } from './cli-context';

interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export interface UploadedBlob {
  id: string;
  sha256: string;
  size: number;
  contentType: string;
}

export class ApiClient {
  constructor(private readonly connection: Connection) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.connection.token}`, ...extra };
    if (this.connection.tenant) headers['x-tenant'] = this.connection.tenant;
    return headers;
  }

  async gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await this.fetch(`${this.connection.url}/graphql`, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json().catch(() => ({}))) as GraphQLBody<T>;
    const first = body.errors?.[0];
    if (first) throw new CliError(`${first.extensions?.code ?? 'ERROR'}: ${first.message}`, first.extensions?.code);
    if (!res.ok || !body.data) throw new CliError(`the API answered HTTP ${res.status}`);
    return body.data;
  }

  /** Streams a file to POST /v1/blobs; `onBytes` hears every chunk as it leaves. */
  async uploadFile(file: string, contentType: string, onBytes: (n: number) => void): Promise<UploadedBlob> {
    const counting = new Transform({
      transform(chunk: Buffer, _enc, done) {
        onBytes(chunk.length);
        done(null, chunk);
      },
    });
    const body = Readable.toWeb(fs.createReadStream(file).pipe(counting)) as ReadableStream<Uint8Array>;
    const res = await this.fetch(`${this.connection.url}/v1/blobs`, {
      method: 'POST',
      headers: this.headers({ 'content-type': contentType, 'content-length': String(fs.statSync(file).size) }),
      body,
      duplex: 'half',
    } as RequestInit);
    const json = (await res.json().catch(() => ({}))) as UploadedBlob & { error?: { code: string; message: string } };
    if (res.status !== 201) {
      throw new CliError(`uploading ${file}: ${json.error?.code ?? res.status}: ${json.error?.message ?? 'upload failed'}`, json.error?.code);
    }
    return json;
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach ${this.connection.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
  }
}

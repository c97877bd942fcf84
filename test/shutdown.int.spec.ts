// Graceful shutdown: in-flight requests finish, sockets are closed with "going away", and the
// server stops accepting connections.
import http from 'node:http';
import { startTestPlatform } from './harness/test-platform';

it('finishes in-flight work, closes sockets, then refuses connections', async () => {
  const tp = await startTestPlatform();
  const token = await tp.token('alice');
  const wsClosed = new Promise<number>((resolve) => {
    const client = tp.wsClient({ authorization: `Bearer ${token}` }, { onClose: (code) => resolve(code) });
    client.on('connected', () => undefined);
  });
  await new Promise((r) => setTimeout(r, 200));

  // An in-flight request: headers sent and accepted, body still on its way when shutdown starts.
  const body = JSON.stringify({ query: '{ viewer { username } }' });
  const { port } = new URL(tp.url);
  const req = http.request({
    host: '127.0.0.1', port, path: '/graphql', method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
  });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  await new Promise((r) => setTimeout(r, 200));

  const shutdown = tp.close();
  await new Promise((r) => setTimeout(r, 100));
  req.end(body);

  const res = await response;
  expect(res.status).toBe(200);
  expect(JSON.parse(res.text).data.viewer.username).toBe('alice');
  expect(await wsClosed).toBe(1001);
  await shutdown;
  await expect(fetch(`${tp.url}/healthz`)).rejects.toThrow();
});

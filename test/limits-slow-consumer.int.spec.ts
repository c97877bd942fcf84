// A graphql-ws client that stops reading is disconnected once its unsent data passes
// WS_MAX_BUFFERED_BYTES, through the real platform and a raw ws client whose TCP socket is
// paused. The client keeps asking for large results (introspection, ~100 KB each) while it
// reads nothing; the server's trip is observed on /metrics, then the client reads again and
// finds the close code after what had been queued. The exact bound (and that nothing more is
// queued after it) is asserted in api/graphql/limits/slow-consumer-guard.spec.ts.
import WebSocket from 'ws';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

const MAX_BUFFERED = 256 * 1024;
let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED) } });
});
afterAll(async () => {
  await tp?.close();
});

async function slowConsumerDisconnects(): Promise<number> {
  const text = await (await fetch(`${tp.url}/metrics`)).text();
  return Number(/^alliance_ws_slow_consumer_disconnects_total (\d+)/m.exec(text)?.[1] ?? 0);
}

const BIG = `{ __schema { types { name description kind fields { name description args { name description type { name kind } } type { name kind ofType { name kind } } } enumValues { name description } inputFields { name description } } } }`;

it('closes a socket that stops reading with 4008, after what was already queued', async () => {
  const socket = new WebSocket(tp.wsUrl, 'graphql-transport-ws');
  const messages: { type: string; id?: string }[] = [];
  let receivedBytes = 0;
  socket.on('message', (data: Buffer) => {
    receivedBytes += data.length;
    messages.push(JSON.parse(data.toString()));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await tp.token('alice')}` } }));
  while (!messages.some((m) => m.type === 'connection_ack')) await new Promise((resolve) => setTimeout(resolve, 10));

  // Stop reading: the kernel buffers fill, then the server's send buffer grows. The client
  // paces itself on the server: an invalid document is a free probe of the rate-limit budget,
  // whose `used` shows how many operations the server has taken on.
  (socket as unknown as { _socket: { pause(): void } })._socket.pause();
  const token = await tp.token('alice');
  const used = async () => Number((await tp.gql(`{ nope }`, {}, { token })).headers.get('x-ratelimit-used'));
  const before = await slowConsumerDisconnects();
  const usedBefore = await used();
  const BIG_COST = (await tp.gql(BIG, {}, { token })).errors ? NaN : (await used()) - usedBefore;
  expect(BIG_COST).toBeGreaterThan(0);
  let sent = 0;
  while ((await slowConsumerDisconnects()) === before) {
    expect(sent).toBeLessThan(1000); // a few MB of kernel buffer at most; fail rather than spin
    for (let i = 0; i < 10; i++) socket.send(JSON.stringify({ id: String(++sent), type: 'subscribe', payload: { query: BIG } }));
    while ((await used()) - usedBefore < (sent + 1) * BIG_COST && (await slowConsumerDisconnects()) === before) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  expect(await slowConsumerDisconnects()).toBe(before + 1);

  (socket as unknown as { _socket: { resume(): void } })._socket.resume();
  const { code, reason } = await closed;
  expect(code).toBe(4008);
  expect(reason).toMatch(new RegExp(`slow consumer: \\d+ bytes unread \\(limit ${MAX_BUFFERED}\\)`));
  // Results past the bound were dropped, not queued.
  const results = messages.filter((m) => m.type === 'next').length;
  expect(results).toBeGreaterThan(0);
  expect(results).toBeLessThan(sent);
  expect(receivedBytes).toBeGreaterThan(MAX_BUFFERED);
});

it('leaves a client that keeps reading alone', async () => {
  const socket = new WebSocket(tp.wsUrl, 'graphql-transport-ws');
  const completed = new Set<string>();
  let acknowledged = false;
  let closedCode: number | undefined;
  socket.on('close', (code) => (closedCode = code));
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'connection_ack') acknowledged = true;
    if (message.type === 'complete') completed.add(message.id);
  });
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await tp.token('alice')}` } }));
  while (!acknowledged) await new Promise((resolve) => setTimeout(resolve, 10));
  // Far more than the bound in total, all read as it arrives.
  for (let i = 1; i <= 40; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: BIG } }));
  while (completed.size < 40 && closedCode === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(closedCode).toBeUndefined();
  expect(completed.size).toBe(40);
  socket.close();
  await new Promise((resolve) => socket.once('close', resolve));
});

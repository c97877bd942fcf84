import { guardSlowConsumer, SLOW_CONSUMER_CLOSE_CODE, type GuardableSocket } from './slow-consumer-guard';

/** A socket whose peer never reads: every send stays buffered. */
class StalledSocket implements GuardableSocket {
  readyState = 1;
  bufferedAmount = 0;
  sent: unknown[] = [];
  closed?: { code?: number; reason?: string };
  send = ((data: string, _options: unknown, cb?: (err?: Error) => void) => {
    this.sent.push(data);
    this.bufferedAmount += data.length;
    void cb; // a stalled peer: the write never completes
  }) as GuardableSocket['send'];
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
    this.readyState = 2;
  }
}

describe('guardSlowConsumer', () => {
  it('releases each send at once, so the socket buffer is the one queue', () => {
    const socket = new StalledSocket();
    guardSlowConsumer(socket, { maxBufferedBytes: 1000 });
    const done = jest.fn();
    socket.send('x'.repeat(100), done);
    expect(done).toHaveBeenCalledTimes(1);
    expect(socket.sent).toHaveLength(1);
  });

  it('closes with the slow-consumer code once unsent bytes pass the bound, and sends nothing more', () => {
    const socket = new StalledSocket();
    const onSlowConsumer = jest.fn();
    guardSlowConsumer(socket, { maxBufferedBytes: 1000, onSlowConsumer });
    for (let i = 0; i < 10; i++) socket.send('x'.repeat(100)); // exactly 1000: still within the bound
    expect(socket.closed).toBeUndefined();
    socket.send('x');
    expect(socket.closed?.code).toBe(SLOW_CONSUMER_CLOSE_CODE);
    expect(socket.closed?.reason).toMatch(/slow consumer: 1001 bytes unread \(limit 1000\)/);
    expect(onSlowConsumer).toHaveBeenCalledWith(1001);

    // Memory stays flat: later sends are dropped (and still release their producer).
    const done = jest.fn();
    for (let i = 0; i < 1000; i++) socket.send('x'.repeat(100), done);
    expect(socket.sent).toHaveLength(11);
    expect(socket.bufferedAmount).toBe(1001);
    expect(done).toHaveBeenCalledTimes(1000);
    expect(onSlowConsumer).toHaveBeenCalledTimes(1);
  });

  it('leaves a consumer that keeps up alone', () => {
    const socket = new StalledSocket();
    guardSlowConsumer(socket, { maxBufferedBytes: 1000 });
    for (let i = 0; i < 10_000; i++) {
      socket.send('x'.repeat(500));
      socket.bufferedAmount = 0; // the peer read it
    }
    expect(socket.closed).toBeUndefined();
  });

  it('passes options through to the real send', () => {
    const socket = new StalledSocket();
    const seen: unknown[] = [];
    const original = socket.send;
    socket.send = ((data: string, options: unknown, cb?: () => void) => {
      seen.push(options);
      return (original as (d: string, o: unknown, c?: () => void) => void)(data, options, cb);
    }) as GuardableSocket['send'];
    guardSlowConsumer(socket, { maxBufferedBytes: 1000 });
    socket.send('x', { binary: false }, () => undefined);
    expect(seen).toEqual([{ binary: false }]);
  });
});

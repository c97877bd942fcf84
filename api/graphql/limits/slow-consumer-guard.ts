// A WebSocket client that stops reading (a frozen tab, a stalled script, a deliberate attack)
// must not make the server hold its undelivered messages without bound.
//
// graphql-ws waits for each message of a subscription to be flushed before taking the next
// event, so without this guard a stalled client would park every event in the source's queue
// (the pubsub iterator) instead — unbounded, and invisible to the socket. The guard turns the
// socket's own send buffer into the one queue and bounds it: each send is queued at once and the
// producer released, and a socket whose unsent bytes (ws.bufferedAmount: node's write buffer
// plus ws's pending frames) pass the bound is closed with SLOW_CONSUMER_CLOSE_CODE. Memory per
// socket stays under the bound plus one message.
//
// close() queues the close frame behind the unread data, so a client that resumes reading gets
// everything sent so far and then the code; one that never does is destroyed by ws's closing
// handshake timeout (30 s). After close() nothing more is queued (graphql-ws skips sends on a
// socket that is not OPEN, and so does the guard).
import type WebSocket from 'ws';

/** Application range (4000–4999); graphql-ws clients treat it as retryable, with backoff. */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

/** The part of a ws WebSocket the guard uses (a fake in unit tests). */
export interface GuardableSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send: WebSocket['send'];
  close(code?: number, reason?: string): void;
}

export interface SlowConsumerOptions {
  maxBufferedBytes: number;
  /** Called once per closed socket, with the unsent bytes that tripped it. */
  onSlowConsumer?: (bufferedBytes: number) => void;
}

const OPEN = 1;

type SendCallback = (err?: Error) => void;

export function guardSlowConsumer(socket: GuardableSocket, options: SlowConsumerOptions): void {
  const send = socket.send.bind(socket) as (data: unknown, options: object, cb: SendCallback) => void;
  let tripped = false;
  socket.send = ((data: unknown, optionsOrCallback?: object | SendCallback, callback?: SendCallback) => {
    const done = typeof optionsOrCallback === 'function' ? optionsOrCallback : callback;
    const sendOptions = typeof optionsOrCallback === 'function' ? {} : optionsOrCallback ?? {};
    if (tripped || socket.readyState !== OPEN) {
      done?.();
      return;
    }
    // A failed write means the connection is gone; its close event cleans up.
    send(data, sendOptions, () => undefined);
    done?.();
    const buffered = socket.bufferedAmount;
    if (buffered > options.maxBufferedBytes) {
      tripped = true;
      options.onSlowConsumer?.(buffered);
      socket.close(SLOW_CONSUMER_CLOSE_CODE, `slow consumer: ${buffered} bytes unread (limit ${options.maxBufferedBytes})`);
    }
  }) as WebSocket['send'];
}

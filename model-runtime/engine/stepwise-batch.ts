import { BatchSession } from './batch-session';
import { errorMessage } from './engine-errors';
import { Stepwise } from './handler';

/**
 * Handler.runBatch for a stepwise handler: the batch is fixed when it starts and its items take
 * their steps together until each runs out, so one long item keeps the run going after the
 * others have left (the engine's continuous mode admits new items between steps instead).
 * Each step's run is charged to the items in it.
 */
export async function runStepsToEnd<Item, Output, Progress>(
  stepwise: Stepwise<Item, Output, Progress>, session: BatchSession, items: Item[],
): Promise<Array<Output | Error>> {
  const progress = items.map((item) => stepwise.begin(item));
  const failed = new Map<number, Error>();
  for (;;) {
    const active = progress.flatMap((p, i) => (failed.has(i) || stepwise.done(p) ? [] : [i]));
    if (!active.length) break;
    try {
      await stepwise.step((feeds) => session.run(feeds, active), active.map((i) => progress[i]));
    } catch (error) {
      for (const i of active) failed.set(i, error instanceof Error ? error : new Error(errorMessage(error)));
    }
  }
  return progress.map((p, i) => failed.get(i) ?? stepwise.output(p));
}

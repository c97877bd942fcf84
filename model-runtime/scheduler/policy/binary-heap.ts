/** A min-heap under `compare`; ties are settled by the comparator, so order is deterministic. */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let child = items.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (this.compare(items[child], items[parent]) >= 0) break;
      [items[child], items[parent]] = [items[parent], items[child]];
      child = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    const items = this.items;
    let parent = start;
    for (;;) {
      const left = 2 * parent + 1;
      if (left >= items.length) return;
      const right = left + 1;
      const smaller = right < items.length && this.compare(items[right], items[left]) < 0 ? right : left;
      if (this.compare(items[smaller], items[parent]) >= 0) return;
      [items[smaller], items[parent]] = [items[parent], items[smaller]];
      parent = smaller;
    }
  }
}

import { BinaryHeap } from './binary-heap';

describe('BinaryHeap', () => {
  it('pops in comparator order', () => {
    const heap = new BinaryHeap<number>((a, b) => a - b);
    const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 503);
    values.forEach((v) => heap.push(v));
    const popped: number[] = [];
    while (heap.size > 0) popped.push(heap.pop()!);
    expect(popped).toEqual([...values].sort((a, b) => a - b));
    expect(heap.pop()).toBeUndefined();
  });
});

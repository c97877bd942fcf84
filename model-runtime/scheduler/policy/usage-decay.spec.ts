import { accrueRunning, addUsage, decay } from './usage-decay';

describe('usage decay', () => {
  it('halves usage every half-life', () => {
    expect(decay(1000, 3600, 3600)).toBeCloseTo(500);
    expect(decay(1000, 7200, 3600)).toBeCloseTo(250);
    expect(decay(1000, 0, 3600)).toBe(1000);
  });

  it('never decays with an infinite half-life, and refuses one that would produce NaN', () => {
    expect(decay(1000, 1e9, Infinity)).toBe(1000);
    expect(() => decay(1000, 10, 0)).toThrow(RangeError);
    expect(() => decay(1000, 10, Number.NaN)).toThrow(RangeError);
  });

  it('adds fresh usage after decaying the old to the same instant', () => {
    expect(addUsage({ deviceSeconds: 1000, asOfSec: 0 }, 30, 3600, 3600)).toEqual({ deviceSeconds: 530, asOfSec: 3600 });
  });

  it('decays a late report to the record instant rather than moving the record back', () => {
    const usage = addUsage({ deviceSeconds: 100, asOfSec: 7200 }, 40, 3600, 3600);
    expect(usage.asOfSec).toBe(7200);
    expect(usage.deviceSeconds).toBeCloseTo(120);
  });

  it('accrues running devices exactly, whatever the step', () => {
    const oneStep = accrueRunning({ deviceSeconds: 0, asOfSec: 0 }, 4, 600, 300);
    let manySteps = { deviceSeconds: 0, asOfSec: 0 };
    for (let t = 7; t <= 600; t += 7) manySteps = accrueRunning(manySteps, 4, t, 300);
    manySteps = accrueRunning(manySteps, 4, 600, 300);
    expect(manySteps.deviceSeconds).toBeCloseTo(oneStep.deviceSeconds, 6);
    expect(accrueRunning({ deviceSeconds: 0, asOfSec: 0 }, 4, 600, Infinity).deviceSeconds).toBe(2400);
    // Less than the raw 2400: the early part of the run has decayed already.
    expect(oneStep.deviceSeconds).toBeLessThan(2400);
  });
});

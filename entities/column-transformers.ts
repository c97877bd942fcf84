/**
 * bigint columns arrive from pg as strings. Milli-units, byte counts and device-milliseconds stay
 * far below 2^53, so plain numbers are exact for them.
 */
export const bigintAsNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

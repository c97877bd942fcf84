// What a synchronous request costs and where its usage is aggregated. The charging itself is
// tenants/quota-holds.ts: requests are admitted against a prepaid hold of the tenant's budget
// and their usage is settled in aggregated CAPTUREs with their usage_record buckets.
//
// Units: compute units = device seconds × the accelerator's billing weight, rounded *up* to the
// ledger's resolution (0.001 units): a request that ran is never free, and the rounding is at
// most 0.001 units per request, in the caller's disfavour, stated in the API description.

export function measuredMilli(deviceSeconds: number, billingWeight: number): number {
  return deviceSeconds > 0 ? Math.max(1, Math.ceil(deviceSeconds * billingWeight * 1000 - 1e-9)) : 0;
}

/** usage_record's bucket: the minute the request was answered in. */
export function minuteBucket(at: Date = new Date()): Date {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000);
}

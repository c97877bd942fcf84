import { Column, Entity, PrimaryColumn } from 'typeorm';

export type RateLimitSubjectType = 'TENANT' | 'USER';

/**
 * Points one subject spent in one fixed hourly window. The subject is the acting tenant, or the
 * user when a caller acts without a tenant. Written only by tenants/rate-limiter.ts: API
 * processes lease slices of it and give back what they did not spend.
 */
@Entity({ name: 'rate_limit_usage' })
export class RateLimitUsage {
  @PrimaryColumn({ name: 'subject_type', type: 'text' })
  subjectType: RateLimitSubjectType;

  @PrimaryColumn({ name: 'subject_id', type: 'uuid' })
  subjectId: string;

  @PrimaryColumn({ name: 'window_start', type: 'timestamptz' })
  windowStart: Date;

  @Column({ type: 'integer' })
  used: number;
}

import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An alliance admin's override of one tenant's hourly query-cost budget (GraphQL rate limit). */
@Entity({ name: 'rate_limit_setting' })
export class RateLimitSetting {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'points_per_hour', type: 'integer' })
  pointsPerHour: number;

  @Column({ name: 'updated_by', type: 'uuid', nullable: true })
  updatedBy: string | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => "date_trunc('milliseconds', now())" })
  updatedAt: Date;
}

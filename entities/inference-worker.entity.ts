import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A worker process serving inference to API processes in split mode (one row per running process). */
@Entity({ name: 'inference_worker' })
export class InferenceWorker {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ type: 'text' })
  node: string;

  @Column({ type: 'text' })
  kind: string;

  @Column({ type: 'text' })
  url: string;

  /** Endpoint ids loaded on this worker now. */
  @Column({ type: 'uuid', array: true })
  endpoints: string[];

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  @Column({ name: 'last_heartbeat_at', type: 'timestamptz' })
  lastHeartbeatAt: Date;
}

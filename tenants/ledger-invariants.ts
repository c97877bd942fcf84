// The ledger's invariants as one query each, for tests after every scenario and for operators
// (a non-empty answer is a bug, never a state to live with):
//  1. every balance row equals the sums of its ledger entries;
//  2. no job has captured + released more than it reserved;
//  3. a finished job (SUCCEEDED, FAILED, CANCELLED) holds nothing any more;
//  4. every synchronous-inference hold (tenants/quota-holds.ts) holds exactly what its entries
//     say (reserved − captured − released, never negative), and a closed hold holds nothing.
import type { EntityManager } from 'typeorm';

export async function ledgerViolations(em: EntityManager): Promise<string[]> {
  const problems: string[] = [];
  const balances: { tenant_id: string; period: string; granted: string; reserved: string; used: string; g: string; r: string; u: string }[] =
    await em.query(`
      SELECT b.tenant_id, b.period, b.granted_milli AS granted, b.reserved_milli AS reserved, b.used_milli AS used,
             coalesce(sum(e.units_milli) FILTER (WHERE e.kind IN ('GRANT', 'ADJUST')), 0) AS g,
             coalesce(sum(e.units_milli) FILTER (WHERE e.kind = 'RESERVE'), 0)
               - coalesce(sum(e.units_milli) FILTER (WHERE e.kind = 'CAPTURE' AND (e.job_id IS NOT NULL OR e.hold_id IS NOT NULL)), 0)
               - coalesce(sum(e.units_milli) FILTER (WHERE e.kind = 'RELEASE'), 0) AS r,
             coalesce(sum(e.units_milli) FILTER (WHERE e.kind = 'CAPTURE'), 0) AS u
        FROM quota_balance b
        LEFT JOIN ledger_entry e ON e.tenant_id = b.tenant_id AND e.period = b.period
       GROUP BY b.tenant_id, b.period, b.granted_milli, b.reserved_milli, b.used_milli`);
  for (const b of balances) {
    if (b.granted !== b.g || b.reserved !== b.r || b.used !== b.u) {
      problems.push(`balance ${b.tenant_id}/${b.period}: row (${b.granted}, ${b.reserved}, ${b.used}) ≠ ledger (${b.g}, ${b.r}, ${b.u})`);
    }
  }
  const jobs: { job_id: string; reserved: string; spent: string }[] = await em.query(`
    SELECT job_id,
           coalesce(sum(units_milli) FILTER (WHERE kind = 'RESERVE'), 0) AS reserved,
           coalesce(sum(units_milli) FILTER (WHERE kind IN ('CAPTURE', 'RELEASE')), 0) AS spent
      FROM ledger_entry WHERE job_id IS NOT NULL GROUP BY job_id
    HAVING coalesce(sum(units_milli) FILTER (WHERE kind IN ('CAPTURE', 'RELEASE')), 0)
         > coalesce(sum(units_milli) FILTER (WHERE kind = 'RESERVE'), 0)`);
  for (const j of jobs) problems.push(`job ${j.job_id}: captured + released ${j.spent} > reserved ${j.reserved}`);
  const [{ exists }]: { exists: string | null }[] = await em.query(`SELECT to_regclass('job') AS exists`);
  if (exists) {
    const open: { id: string; hold: string }[] = await em.query(`
      SELECT j.id, sum(CASE e.kind WHEN 'RESERVE' THEN e.units_milli ELSE -e.units_milli END) AS hold
        FROM job j JOIN ledger_entry e ON e.job_id = j.id AND e.kind IN ('RESERVE', 'CAPTURE', 'RELEASE')
       WHERE j.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
       GROUP BY j.id HAVING sum(CASE e.kind WHEN 'RESERVE' THEN e.units_milli ELSE -e.units_milli END) <> 0`);
    for (const j of open) problems.push(`finished job ${j.id} still holds ${j.hold} milli-units`);
  }
  const [{ holds }]: { holds: string | null }[] = await em.query(`SELECT to_regclass('quota_hold') AS holds`);
  if (holds) {
    const wrong: { id: string; held: string; entries: string; closed: boolean }[] = await em.query(`
      SELECT h.id, h.held_milli AS held, h.closed_at IS NOT NULL AS closed,
             coalesce(sum(CASE e.kind WHEN 'RESERVE' THEN e.units_milli ELSE -e.units_milli END), 0) AS entries
        FROM quota_hold h LEFT JOIN ledger_entry e ON e.hold_id = h.id
       GROUP BY h.id, h.held_milli, h.closed_at
      HAVING h.held_milli <> coalesce(sum(CASE e.kind WHEN 'RESERVE' THEN e.units_milli ELSE -e.units_milli END), 0)
          OR (h.closed_at IS NOT NULL AND h.held_milli <> 0)`);
    for (const h of wrong) problems.push(`hold ${h.id}${h.closed ? ' (closed)' : ''}: holds ${h.held}, its entries say ${h.entries}`);
  }
  return problems;
}

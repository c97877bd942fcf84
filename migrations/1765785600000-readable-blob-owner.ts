import type { MigrationInterface, QueryRunner } from 'typeorm';

// app_readable_blob also answers the blob's owning tenant. A blob is immutable and never deleted,
// and the row-level security lets its own tenant read it always: once a lookup says "yours", the
// API process remembers the answer for that tenant (resolvers/blobs/blobs.service.ts) and a
// member calling a model on the same upload again waits for no round trip. Anything else — a
// blob readable through a shared dataset or model, whose grant may end — is asked every time.
const CREATE = (columns: string, select: string) => `
  CREATE FUNCTION app_readable_blob(p_user text, p_tenant text, p_admin text, p_blob uuid)
    RETURNS TABLE (${columns})
    LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
  #variable_conflict use_column
  BEGIN
    PERFORM set_config('app.user_id', p_user, true), set_config('app.tenant_id', p_tenant, true),
            set_config('app.alliance_admin', p_admin, true);
    RETURN QUERY SELECT ${select} FROM blob b WHERE b.id = p_blob;
  END $$`;

export class ReadableBlobOwner1765785600000 implements MigrationInterface {
  name = 'ReadableBlobOwner1765785600000';

  async up(q: QueryRunner): Promise<void> {
    // The result type changes, which CREATE OR REPLACE cannot do.
    await q.query(`DROP FUNCTION app_readable_blob(text, text, text, uuid)`);
    await q.query(CREATE('sha256 text, size bigint, tenant_id uuid', 'b.sha256, b.size, b.tenant_id'));
    await grant(q);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION app_readable_blob(text, text, text, uuid)`);
    await q.query(CREATE('sha256 text, size bigint', 'b.sha256, b.size'));
    await grant(q);
  }
}

async function grant(q: QueryRunner): Promise<void> {
  await q.query(`REVOKE ALL ON FUNCTION app_readable_blob(text, text, text, uuid) FROM PUBLIC`);
  await q.query(`GRANT EXECUTE ON FUNCTION app_readable_blob(text, text, text, uuid) TO alliance_app`);
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

// app_readable_blob: the content address and size of a blob as the caller sees it (the `blob`
// table's row-level security decides, exactly as for a read inside withTenant), in one round
// trip. `infer` with a `{ blobId }` input asked this through a transaction of four statements
// (begin, identity settings, select, commit): a member who uploads a clip once and calls a model
// on it by id paid more per call than one who sent the clip inline.
export class ReadableBlobFunction1765699200000 implements MigrationInterface {
  name = 'ReadableBlobFunction1765699200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION app_readable_blob(p_user text, p_tenant text, p_admin text, p_blob uuid)
        RETURNS TABLE (sha256 text, size bigint)
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      #variable_conflict use_column
      BEGIN
        PERFORM set_config('app.user_id', p_user, true), set_config('app.tenant_id', p_tenant, true),
                set_config('app.alliance_admin', p_admin, true);
        RETURN QUERY SELECT b.sha256, b.size FROM blob b WHERE b.id = p_blob;
      END $$`);
    await q.query(`REVOKE ALL ON FUNCTION app_readable_blob(text, text, text, uuid) FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION app_readable_blob(text, text, text, uuid) TO alliance_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION app_readable_blob(text, text, text, uuid)`);
  }
}

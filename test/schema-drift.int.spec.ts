// Entities and hand-written migrations must agree: every entity column exists in the migrated
// database with the same type and nullability, and every table has an entity. This is what
// TypeORM's `synchronize` would otherwise paper over — and we never synchronize.
import 'reflect-metadata';
import { Client } from 'pg';
import { ENTITIES } from '../entities';
import { createDataSource } from '../tenants/database';
import { createTestDatabase, type TestDatabase } from './harness/test-database';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const TYPE_NAMES: Record<string, string> = {
  uuid: 'uuid', text: 'text', varchar: 'varchar', 'character varying': 'varchar', timestamptz: 'timestamptz',
  'timestamp with time zone': 'timestamptz', jsonb: 'jsonb', int: 'int4', integer: 'int4', int4: 'int4',
  bigint: 'int8', int8: 'int8', boolean: 'bool', bool: 'bool', 'double precision': 'float8', float8: 'float8',
  smallint: 'int2', real: 'float4', bytea: 'bytea', numeric: 'numeric', 'text[]': '_text', 'int[]': '_int4',
};

it('every entity column matches the migrated database, and every table has an entity', async () => {
  const ds = createDataSource(db.ownerUrl, { poolSize: 1 });
  await ds.initialize();
  const client = new Client({ connectionString: db.ownerUrl });
  await client.connect();
  try {
    const rows = (await client.query(`SELECT table_name, column_name, udt_name, is_nullable
      FROM information_schema.columns WHERE table_schema = 'public'`)).rows;
    const columns = new Map(rows.map((r) => [`${r.table_name}.${r.column_name}`, r]));
    const problems: string[] = [];
    const entityTables = new Set<string>();
    for (const meta of ENTITIES.map((e) => ds.getMetadata(e))) {
      entityTables.add(meta.tableName);
      for (const col of meta.columns) {
        const key = `${meta.tableName}.${col.databaseName}`;
        const actual = columns.get(key);
        if (!actual) {
          problems.push(`${key}: in entity ${meta.name}, not in the migrations`);
          continue;
        }
        const declared = typeof col.type === 'string' ? col.type : '';
        const expected = col.type === 'enum' ? col.enumName : `${TYPE_NAMES[declared] ?? declared}${col.isArray ? '[]' : ''}`;
        const actualType = col.isArray ? actual.udt_name.replace(/^_/, '') + '[]' : actual.udt_name;
        if (expected !== actualType) problems.push(`${key}: entity says ${expected}, database has ${actualType}`);
        const nullable = actual.is_nullable === 'YES';
        if (nullable !== col.isNullable) problems.push(`${key}: entity nullable=${col.isNullable}, database nullable=${nullable}`);
      }
    }
    const tables = new Set(rows.map((r) => r.table_name));
    for (const table of tables) {
      if (table !== 'migrations' && !entityTables.has(table)) problems.push(`table ${table} has no entity`);
    }
    expect(problems).toEqual([]);
  } finally {
    await client.end();
    await ds.destroy();
  }
});

it('every migration can be reverted and re-applied', async () => {
  const ds = createDataSource(db.ownerUrl, { poolSize: 1 });
  await ds.initialize();
  try {
    const applied = (await ds.query('SELECT count(*)::int AS n FROM migrations'))[0].n as number;
    for (let i = 0; i < applied; i++) await ds.undoLastMigration({ transaction: 'each' });
    expect((await ds.query('SELECT count(*)::int AS n FROM migrations'))[0].n).toBe(0);
    const reapplied = await ds.runMigrations({ transaction: 'each' });
    expect(reapplied).toHaveLength(applied);
  } finally {
    await ds.destroy();
  }
});

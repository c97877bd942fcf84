// The IDOR matrix, generated from the schema: every query and mutation field that takes an id
// (directly or inside its input), called by tenant B with each of tenant A's private object ids,
// of every kind, must answer NOT_FOUND — indistinguishable from an id that never existed — and
// return no data. New fields are covered automatically: the matrix walks the introspected schema.
import {
  getNamedType, getNullableType, isEnumType, isInputObjectType, isListType, isNonNullType, isScalarType,
  type GraphQLArgument, type GraphQLField, type GraphQLInputType, type GraphQLSchema,
} from 'graphql';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { createDataset, createVersion, publishVersion, blobOf } from './harness/datasets-factory';
import { deployTensorEndpoint, tensorItem } from './harness/model-factory';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

jest.setTimeout(180_000);

let tp: TestPlatform;
let schema: GraphQLSchema;
const ids: Record<string, string> = {};

beforeAll(async () => {
  tp = await startTestPlatform({ env: { WORKER_SLOTS: '1', SCHEDULER_TICK_MS: '200' } });
  schema = tp.platform.schema;
  // Tenant A (casia, alice) owns one private object of every kind.
  ids.Tenant = (await tp.as('alice', `{ viewer { activeTenant { id } } }`)).viewer.activeTenant.id;
  ids.Blob = await blobOf(tp, 'alice');
  const dataset = (await createDataset(tp, 'alice', { name: 'idor-private', modality: 'IMAGE', visibility: 'PRIVATE' })).id;
  ids.Dataset = dataset;
  ids.DatasetVersion = (await createVersion(tp, 'alice', dataset, [{ blobId: ids.Blob, metadata: { k: 1 } }])).id;
  await publishVersion(tp, 'alice', ids.DatasetVersion);
  const deployed = await deployTensorEndpoint(tp, 'alice', 'casia', 'idor-private-model', scaleModel(5));
  ids.Model = deployed.modelId;
  ids.ModelVersion = deployed.modelVersionId;
  ids.Endpoint = deployed.endpointId;
  const job = await tp.as('alice', `mutation($e: ID!, $i: [JSON!]!) { submitJob(input: { endpointId: $e, inputs: $i }) { job { id } } }`,
    { e: ids.Endpoint, i: [tensorItem([1, 2, 3])] });
  ids.Job = job.submitJob.job.id;
  ids.LedgerEntry = (await tp.as('alice', `{ ledger(first: 1) { edges { node { id } } } }`)).ledger.edges[0].node.id;
  // An access request made by iqiyi to a casia ALLIANCE dataset: visible to casia and iqiyi only.
  const shared = (await createDataset(tp, 'alice', { name: 'idor-shared', modality: 'IMAGE', visibility: 'SHARED' })).id;
  ids.AccessRequest = (await tp.as('carol', `mutation($d: ID!) { requestDatasetAccess(datasetId: $d, reason: "fixture") { id } }`, { d: shared })).requestDatasetAccess.id;
  const grant = await tp.as('alice', `mutation($d: ID!) { shareDataset(input: { datasetId: $d, tenantSlug: "iqiyi", purpose: "idor fixture" }) { id } }`, { d: shared });
  ids.DatasetGrant = grant.shareDataset.id;
});
afterAll(async () => {
  await tp?.close();
});

/** A value for a required argument that is not the id under test. */
function filler(type: GraphQLInputType, depth = 0): unknown {
  const t = getNullableType(type);
  if (isListType(t)) return [filler(t.ofType, depth + 1)];
  if (isEnumType(t)) return t.getValues()[0].value;
  if (isInputObjectType(t)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(t.getFields())) if (isNonNullType(f.type) && f.defaultValue === undefined) out[f.name] = filler(f.type, depth + 1);
    return out;
  }
  if (isScalarType(t)) {
    switch (t.name) {
      case 'Int': return 1;
      case 'Float': return 1;
      case 'Boolean': return false;
      case 'DateTime': return new Date(Date.now() + 86_400_000).toISOString();
      case 'JSON': return {};
      default: return 'x';
    }
  }
  return null;
}

/** Every way to place an id into this field's arguments: a path per ID-typed argument or input field. */
function idSlots(args: readonly GraphQLArgument[]): string[][] {
  const slots: string[][] = [];
  const walk = (type: GraphQLInputType, path: string[], depth: number) => {
    const named = getNamedType(type);
    if (isScalarType(named) && named.name === 'ID') slots.push(path);
    else if (isInputObjectType(named) && depth < 3) for (const f of Object.values(named.getFields())) walk(f.type, [...path, f.name], depth + 1);
  };
  for (const a of args) walk(a.type, [a.name], 0);
  return slots;
}

function buildArgs(field: GraphQLField<unknown, unknown>, slot: string[], id: string): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const a of field.args) {
    if (a.name === slot[0] || (isNonNullType(a.type) && a.defaultValue === undefined)) args[a.name] = filler(a.type);
  }
  // Put the id at the slot (through input objects and lists).
  let target: any = args;
  for (let i = 0; i < slot.length - 1; i++) {
    if (target[slot[i]] === undefined || target[slot[i]] === null) target[slot[i]] = {};
    target = Array.isArray(target[slot[i]]) ? target[slot[i]][0] : target[slot[i]];
  }
  const leafArgType = slot.length === 1 ? field.args.find((a) => a.name === slot[0])!.type : null;
  target[slot[slot.length - 1]] = leafArgType && isListType(getNullableType(leafArgType)) ? [id] : id;
  return args;
}

function selection(field: GraphQLField<unknown, unknown>): string {
  const named = getNamedType(field.type);
  if (isScalarType(named) || isEnumType(named)) return '';
  return '{ __typename }';
}

function variableDefs(field: GraphQLField<unknown, unknown>, args: Record<string, unknown>): { defs: string; use: string } {
  const used = field.args.filter((a) => a.name in args);
  return {
    defs: used.length ? `(${used.map((a) => `$${a.name}: ${a.type}`).join(', ')})` : '',
    use: used.length ? `(${used.map((a) => `${a.name}: $${a.name}`).join(', ')})` : '',
  };
}

/** The same kind of id for an object that never existed. */
function phantom(id: string): string {
  const [type] = Buffer.from(id, 'base64url').toString().split(':');
  return Buffer.from(`${type}:00000000-0000-4000-8000-${Math.floor(Math.random() * 1e12).toString().padStart(12, '0')}`).toString('base64url');
}

function normalise(res: { errors?: { message: string; extensions?: Record<string, any> }[] }, id: string): string {
  return JSON.stringify((res.errors ?? []).map((e) => [e.extensions?.code, e.message.split(id).join('<id>')]));
}

it("answers tenant B exactly as for a missing id, for every id-taking field and every kind of tenant A's objects", async () => {
  const bob = await tp.token('bob');
  const failures: string[] = [];
  let calls = 0;
  for (const [operation, root] of [['query', schema.getQueryType()!], ['mutation', schema.getMutationType()!]] as const) {
    for (const field of Object.values(root.getFields())) {
      for (const slot of idSlots(field.args)) {
        for (const [kind, id] of Object.entries(ids)) {
          const args = buildArgs(field, slot, id);
          const { defs, use } = variableDefs(field, args);
          const query = `${operation}${defs} { ${field.name}${use} ${selection(field)} }`;
          const real = await tp.gql(query, args, { token: bob });
          const fakeId = phantom(id);
          const fake = await tp.gql(query, buildArgs(field, slot, fakeId), { token: bob });
          calls++;
          const where = `${field.name}(${slot.join('.')}=${kind})`;
          if (!real.errors?.length) {
            // Only a filter may succeed (jobs(filter: { endpointId })): then it must answer exactly
            // as it does for an id that never existed.
            if (fake.errors?.length || JSON.stringify(real.data) !== JSON.stringify(fake.data)) {
              failures.push(`${where} succeeded: ${JSON.stringify(real.data).slice(0, 100)}`);
            }
          } else if (normalise(real, id) !== normalise(fake, fakeId)) {
            // Any difference tells B that A's object exists.
            failures.push(`${where}: ${normalise(real, id)} ≠ missing-id answer ${normalise(fake, fakeId)}`);
          } else if (real.data?.[field.name] !== null && real.data?.[field.name] !== undefined) {
            failures.push(`${where} returned data alongside its error`);
          }
        }
      }
    }
  }
  expect(calls).toBeGreaterThan(100);
  expect(failures).toEqual([]);
});

it('answers NOT_FOUND through node(id:) for every kind, exactly as for an id that never existed', async () => {
  const bob = await tp.token('bob');
  for (const [kind, id] of Object.entries(ids)) {
    if (kind === 'Tenant' || kind === 'AccessRequest') continue; // bob's own tenant view; iqiyi's request
    const res = await tp.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }, { token: bob });
    expect([kind, res.errors?.[0].extensions?.code, res.data?.node ?? null]).toEqual([kind, 'NOT_FOUND', null]);
  }
});

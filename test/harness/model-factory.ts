// Small factories for tests that need a model endpoint: upload an ONNX file as a blob, register
// it, deploy it, wait until it is READY — through the public API, as a member would.
import type { ApiClient } from './test-platform';

export async function uploadBlob(tp: ApiClient, username: string, tenant: string, bytes: Uint8Array, contentType = 'application/octet-stream'): Promise<string> {
  const res = await fetch(`${tp.url}/v1/blobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await tp.token(username)}`, 'x-tenant': tenant, 'content-type': contentType },
    body: Buffer.from(bytes),
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`blob upload: ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

export interface DeployedEndpoint {
  endpointId: string;
  modelId: string;
  modelVersionId: string;
}

export async function deployTensorEndpoint(
  tp: ApiClient,
  username: string,
  tenant: string,
  name: string,
  bytes: Uint8Array,
  opts: { visibility?: 'PRIVATE' | 'SHARED' | 'ALLIANCE'; maxBatchSize?: number; maxReplicas?: number; handler?: string; config?: unknown } = {},
): Promise<DeployedEndpoint> {
  const blobId = await uploadBlob(tp, username, tenant, bytes);
  const model = await tp.as(username, `mutation($input: CreateModelInput!) { createModel(input: $input) { id } }`,
    { input: { name, task: 'tensor-transform', modality: 'TENSOR', visibility: opts.visibility ?? 'PRIVATE' } }, tenant);
  const version = await tp.as(username, `mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) { id } }`,
    { input: { modelId: model.createModel.id, blobId, handler: opts.handler ?? 'tensor', config: opts.config ?? null } }, tenant);
  const endpoint = await tp.as(username, `mutation($input: DeployEndpointInput!) { deployEndpoint(input: $input) { id status } }`,
    { input: { modelVersionId: version.createModelVersion.id, name, maxBatchSize: opts.maxBatchSize ?? 8, maxQueueDelayMs: 2, maxReplicas: opts.maxReplicas } }, tenant);
  const endpointId = endpoint.deployEndpoint.id as string;
  for (let i = 0; i < 200; i++) {
    const state = await tp.as(username, `query($id: ID!) { node(id: $id) { ... on Endpoint { status } } }`, { id: endpointId }, tenant);
    if (state.node.status === 'READY') return { endpointId, modelId: model.createModel.id, modelVersionId: version.createModelVersion.id };
    if (state.node.status === 'FAILED') throw new Error(`endpoint ${name} failed to deploy`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`endpoint ${name} did not become READY`);
}

/** One item for a y = x·k model: a float32 [1, 3] tensor. */
export function tensorItem(values: [number, number, number]): unknown {
  return { x: { type: 'float32', dims: [1, 3], data: values } };
}

import * as ort from 'onnxruntime-node';
import { InvalidModelError, errorMessage } from './engine-errors';
import { RuntimeOptions, sessionOptions } from './execution-providers';
import { ModelSignature, signatureOf } from './tensor-spec';

/** Creates a session, translating every load failure into InvalidModelError. */
export async function createSession(bytes: Uint8Array, options: RuntimeOptions): Promise<ort.InferenceSession> {
  if (bytes.length === 0) throw new InvalidModelError('the model file is empty');
  const settings = await sessionOptions(options);
  try {
    return await ort.InferenceSession.create(bytes, settings);
  } catch (error) {
    // A TypeError is ONNX Runtime refusing our options, not the file.
    if (error instanceof TypeError) throw error;
    throw new InvalidModelError(`not a loadable ONNX model: ${errorMessage(error)}`);
  }
}

/** Loads the model once to record its signature (done on upload), then frees the session. */
export async function inspectModel(bytes: Uint8Array, options: RuntimeOptions = {}): Promise<ModelSignature> {
  const session = await createSession(bytes, options);
  try {
    return signatureOf(session);
  } finally {
    await session.release();
  }
}

// What a model version records at registration: the file must load in ONNX Runtime, and its
// signature must fit the chosen handler. Both failures are InvalidModelError with a reason
// written for the uploader (never a file path). The session is released right away; serving
// loads it again through the session pool when an endpoint is deployed.
import { BUILT_IN_HANDLERS, InvalidModelError, inspectModel, type ModelSignature, type RuntimeOptions } from '../engine';
import { HANDLER_NAMES, isKnownHandler } from './handler-names';

export async function inspectForHandler(
  bytes: Uint8Array, handler: string, config: Record<string, unknown>, options: RuntimeOptions = {},
): Promise<ModelSignature> {
  if (!isKnownHandler(handler)) {
    throw new InvalidModelError(`unknown handler '${handler}'; use one of ${HANDLER_NAMES.join(', ')}`);
  }
  const signature = await inspectModel(bytes, options);
  BUILT_IN_HANDLERS[handler](config).checkSignature(signature);
  return signature;
}

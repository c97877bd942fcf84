// The built-in handlers by name, without loading them: the API checks a model version's handler
// before anything else, and split mode's API processes must not load ONNX Runtime, which the
// handlers' modules import. The type checks below keep this list and the engine's registry equal.
import type { HandlerName } from '../engine';

export const HANDLER_NAMES = ['tensor', 'ocr', 'vad', 'image-classification'] as const satisfies readonly HandlerName[];

// Fails to compile when the engine gains a handler this list lacks.
type Missing = Exclude<HandlerName, (typeof HANDLER_NAMES)[number]>;
const everyHandlerListed: [Missing] extends [never] ? true : Missing = true;
void everyHandlerListed;

export function isKnownHandler(name: string): name is HandlerName {
  return (HANDLER_NAMES as readonly string[]).includes(name);
}

import { InvalidModelError } from './engine-errors';
import { Handler, HandlerFactory } from './handler';
import { ImageClassificationConfig, ImageClassificationHandler } from './image-classification-handler';
import { OcrHandler, OcrHandlerConfig } from './ocr-handler';
import { TensorHandler, TensorHandlerConfig } from './tensor-handler';
import { VadHandler, VadHandlerConfig } from './vad-handler';

export type HandlerName = 'tensor' | 'ocr' | 'vad' | 'image-classification';

export const BUILT_IN_HANDLERS: Record<HandlerName, HandlerFactory> = {
  tensor: (config) => new TensorHandler(config as TensorHandlerConfig),
  ocr: (config) => new OcrHandler(config as OcrHandlerConfig),
  vad: (config) => new VadHandler(config as VadHandlerConfig),
  'image-classification': (config) => new ImageClassificationHandler(config as ImageClassificationConfig),
};

export function createHandler(name: string, config: unknown, factories: Record<string, HandlerFactory>): Handler {
  const factory = Object.prototype.hasOwnProperty.call(factories, name) ? factories[name] : undefined;
  if (!factory) throw new InvalidModelError(`unknown handler '${name}'; use one of ${Object.keys(factories).join(', ')}`);
  if (config !== undefined && (typeof config !== 'object' || config === null || Array.isArray(config))) {
    throw new InvalidModelError(`the ${name} handler's config must be an object`);
  }
  return factory(config ?? {});
}

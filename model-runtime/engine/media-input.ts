import sharp from 'sharp';
import { EngineInputError, errorMessage } from './engine-errors';
import { decodeBase64, type MediaBase64Field } from './media-base64';

// Image and audio handlers accept the contract's base64 form or bytes the API already resolved
// from a blob id or decoded before the engine thread's hop; the engine never sees blob ids.

export function mediaBytes(input: unknown, base64Field: MediaBase64Field, maxBytes: number): Uint8Array {
  if (typeof input !== 'object' || input === null) {
    throw new EngineInputError(`expected { ${base64Field} } or { bytes }, got ${input === null ? 'null' : typeof input}`);
  }
  const record = input as Record<string, unknown>;
  let bytes: Uint8Array;
  if (record.bytes instanceof Uint8Array) bytes = record.bytes;
  else if (typeof record[base64Field] === 'string') {
    const decoded = decodeBase64(record[base64Field] as string);
    if (!decoded) throw new EngineInputError(`${base64Field} is not valid base64`);
    bytes = decoded;
  } else {
    throw new EngineInputError(`expected { ${base64Field}: string } or { bytes }; got keys ${Object.keys(record).join(', ') || 'none'}`);
  }
  if (bytes.length === 0) throw new EngineInputError('the input is empty');
  if (bytes.length > maxBytes) throw new EngineInputError(`the input is ${bytes.length} bytes; the limit is ${maxBytes}`);
  return bytes;
}

export interface RgbImage {
  width: number;
  height: number;
  /** Interleaved RGB, 8 bits per channel, rows top to bottom. */
  data: Buffer;
}

/** Decodes PNG/JPEG/WebP/... to RGB, honouring EXIF orientation; refuses oversized images. */
export async function decodeImage(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data };
  } catch (error) {
    const reason = errorMessage(error);
    if (/pixel limit/i.test(reason)) throw new EngineInputError(`the image is larger than ${maxPixels} pixels`);
    throw new EngineInputError(`the image could not be decoded (PNG or JPEG expected): ${reason.split('\n')[0]}`);
  }
}

/** Resizes raw RGB to exactly width×height (bilinear, like cv2.resize in the reference pipelines). */
export async function resizeImage(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return { width, height, data };
}

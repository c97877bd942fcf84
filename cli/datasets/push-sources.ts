// What `datasets push` sends: a folder (every file becomes a blob item, its relative path in
// the metadata) or a JSONL file (one item per line: text, file, blobId, metadata).
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from '../cli-context';

export interface PushEntry {
  /** Where the entry came from, for messages: "images/cat.png" or "data.jsonl:12". */
  origin: string;
  text?: string;
  /** A local file to upload as the item's blob. */
  file?: string;
  /** An already uploaded blob. */
  blobId?: string;
  metadata?: unknown;
}

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
  '.bmp': 'image/bmp', '.tif': 'image/tiff', '.tiff': 'image/tiff',
  '.wav': 'audio/wav', '.mp3': 'audio/mpeg', '.flac': 'audio/flac', '.ogg': 'audio/ogg', '.m4a': 'audio/mp4',
  '.mp4': 'video/mp4', '.webm': 'video/webm', '.mov': 'video/quicktime',
  '.txt': 'text/plain; charset=utf-8', '.json': 'application/json', '.csv': 'text/csv',
  '.onnx': 'application/octet-stream', '.npy': 'application/octet-stream',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export function readSource(source: string): PushEntry[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new CliError(`${source}: no such file or folder`);
  }
  if (stat.isDirectory()) return folderEntries(source);
  if (source.toLowerCase().endsWith('.jsonl')) return jsonlEntries(source);
  throw new CliError(`${source}: expected a folder or a .jsonl file`);
}

function folderEntries(root: string): PushEntry[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    // Sorted, so the same folder always becomes the same item order; dotfiles are not data.
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.push(full);
    }
  };
  walk(root);
  if (files.length === 0) throw new CliError(`${root}: the folder has no files to push`);
  return files.map((file) => {
    const rel = path.relative(root, file).split(path.sep).join('/');
    return { origin: rel, file, metadata: { path: rel } };
  });
}

function jsonlEntries(file: string): PushEntry[] {
  const dir = path.dirname(file);
  const entries: PushEntry[] = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const origin = `${path.basename(file)}:${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch {
      throw new CliError(`${origin}: not valid JSON`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new CliError(`${origin}: expected a JSON object`);
    const { text, file: rel, blobId, metadata } = row as { text?: unknown; file?: unknown; blobId?: unknown; metadata?: unknown };
    if (text !== undefined && typeof text !== 'string') throw new CliError(`${origin}: "text" must be a string`);
    if (rel !== undefined && typeof rel !== 'string') throw new CliError(`${origin}: "file" must be a path relative to the JSONL file`);
    if (blobId !== undefined && typeof blobId !== 'string') throw new CliError(`${origin}: "blobId" must be a string`);
    if (text === undefined && rel === undefined && blobId === undefined) {
      throw new CliError(`${origin}: needs "text", "file" or "blobId"`);
    }
    const entry: PushEntry = { origin, text: text as string | undefined, blobId: blobId as string | undefined, metadata };
    if (rel !== undefined) {
      entry.file = path.resolve(dir, rel as string);
      if (!fs.existsSync(entry.file)) throw new CliError(`${origin}: file ${rel} not found next to ${path.basename(file)}`);
    }
    entries.push(entry);
  });
  if (entries.length === 0) throw new CliError(`${file}: no items`);
  return entries;
}

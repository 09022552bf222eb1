/**
 * Request plumbing: a size-limited JSON body reader and Docker's query
 * parameter conventions (booleans as 1/true/True, `?version=N`).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest } from './errors.js';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Reads the whole body, refusing (413) more than `limit` bytes without buffering them. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `request body larger than ${limit} bytes`);
}

/** `undefined` for an empty body; 400 naming the parse error for malformed JSON. */
export function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`malformed JSON body: ${(err as Error).message}`);
  }
}

/** Docker's boolean query values: 1/true/True are true, 0/false/empty/absent false. */
export function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '') return false;
  if (v === '1' || v.toLowerCase() === 'true') return true;
  if (v === '0' || v.toLowerCase() === 'false') return false;
  throw badRequest(`invalid boolean value ${JSON.stringify(v)}`, name);
}

/** The required `?version=N` of an update: the Version.Index the client read. */
export function versionParam(q: URLSearchParams, what: string): number {
  const v = q.get('version');
  if (v === null || !/^\d+$/.test(v)) throw badRequest(`invalid ${what} version ${JSON.stringify(v ?? '')}: pass ?version=<Version.Index>`, 'version');
  return Number(v);
}

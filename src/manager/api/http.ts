/**
 * Request plumbing: a size-limited JSON body reader and Docker's query
 * parameter conventions (booleans as 1/true/True, `?version=N`).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest } from './errors.js';

/**
 * The largest request body the API reads (ApiServerOptions.maxBodyBytes). The
 * API's bodies are specs of a few KiB (a service spec with every field set is
 * under 10 KiB); 1 MiB leaves room for large label sets and is what one
 * request may make a manager hold in memory.
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Reads the whole body, refusing (413) more than `limit` bytes without buffering them. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw bodyTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw bodyTooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function bodyTooLarge(limit: number): ApiError {
  return new ApiError(413, `request body larger than ${limit} bytes (the API's limit)`);
}

/**
 * Bodies are kept verbatim in parts (unknown spec fields), and the store's
 * encoder and our canonical comparisons recurse: a pathologically nested
 * body would overflow the stack there (a 500). Docker's objects nest about
 * ten levels deep.
 */
export const MAX_JSON_DEPTH = 64;

/** `undefined` for an empty body; 400 naming the parse error for malformed JSON. */
export function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  if (depthExceeds(text, MAX_JSON_DEPTH)) throw badRequest(`JSON body nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`malformed JSON body: ${(err as Error).message}`);
  }
}

/** Bracket depth outside strings, without parsing (so it cannot overflow itself). */
function depthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
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

import { WireError, WireErrorCode } from './errors.js';
import type { Schema } from './schema.js';

/**
 * A message type known to the wire. Every type that crosses a node boundary
 * is registered exactly once, with the schema that validates its body on
 * receipt, so nothing unvalidated ever reaches Raft, gossip or the dispatcher.
 */
export interface MessageType<B = unknown, R = unknown> {
  /** Dotted name, owned by one module: `raft.append`, `gossip.pushpull`, `wire.hello`. */
  readonly name: string;
  /**
   * Protocol version this node sends. Adding an optional field needs no bump;
   * changing required fields or variants changes the type's record-structure
   * table (structures.ts), and peers whose tables differ refuse each other's
   * frames of the type (BAD_VERSION) rather than misread them.
   */
  readonly version: number;
  /** Oldest version this node still accepts (defaults to `version`). */
  readonly minVersion: number;
  /** Validates the body of a one-way message, a request, or a stream frame. */
  readonly body: Schema<B>;
  /** Validates the response body when the type is used as a request. */
  readonly response?: Schema<R>;
  /** Representative bodies, used by the codec round-trip and fuzz tests. */
  readonly samples: () => B[];
  readonly responseSamples?: () => R[];
}

export interface DefineMessage<B, R> {
  name: string;
  version: number;
  minVersion?: number;
  body: Schema<B>;
  response?: Schema<R>;
  samples: () => B[];
  responseSamples?: () => R[];
}

const NAME_RE = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

export class MessageRegistry {
  private readonly types = new Map<string, MessageType>();

  define<B, R = never>(def: DefineMessage<B, R>): MessageType<B, R> {
    if (!NAME_RE.test(def.name)) {
      throw new WireError(WireErrorCode.REGISTRY, `message type name ${JSON.stringify(def.name)} must be dotted lowercase, e.g. raft.append`);
    }
    if (!Number.isInteger(def.version) || def.version < 1) {
      throw new WireError(WireErrorCode.REGISTRY, `message type ${def.name}: version must be an integer >= 1`);
    }
    const minVersion = def.minVersion ?? def.version;
    if (minVersion > def.version || minVersion < 1) {
      throw new WireError(WireErrorCode.REGISTRY, `message type ${def.name}: minVersion must be in [1, version]`);
    }
    const existing = this.types.get(def.name);
    if (existing) {
      // Modules may be imported twice under different loaders in tests; the
      // same definition object is fine, a conflicting one is a bug.
      if (existing.version === def.version && existing.body === def.body) return existing as MessageType<B, R>;
      throw new WireError(WireErrorCode.REGISTRY, `message type ${def.name} registered twice`);
    }
    const mt: MessageType<B, R> = { ...def, minVersion };
    this.types.set(def.name, mt as MessageType);
    return mt;
  }

  get(name: string): MessageType | undefined {
    return this.types.get(name);
  }

  all(): MessageType[] {
    return [...this.types.values()];
  }
}

/**
 * The process-wide registry. Each module defines its message types at import
 * time (src/raft/messages.ts, src/gossip/messages.ts, …); a transport's codec
 * reads from it when frames arrive.
 */
export const registry = new MessageRegistry();

export function defineMessage<B, R = never>(def: DefineMessage<B, R>): MessageType<B, R> {
  return registry.define(def);
}

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

/** Checks a definition and makes it a message type. Defining registers nothing: see MessageRegistry. */
export function defineMessage<B, R = never>(def: DefineMessage<B, R>): MessageType<B, R> {
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
  return { ...def, minVersion };
}

/**
 * The message types a process's codecs know, by name. Nothing gets in by
 * being imported: a composition root adds the lists it speaks (the node
 * daemon: src/protocol's CLUSTER_MESSAGES; the task supervisor: its socket's
 * messages), and a transport adds each type it is handed — by a handler
 * registration or by a send — so a type in use is always known.
 */
export class MessageRegistry {
  private readonly types = new Map<string, MessageType>();

  constructor(types: readonly MessageType[] = []) {
    this.add(...types);
  }

  /** Adds types; adding the same type again is a no-op, a different one under a known name is a bug. */
  add(...types: MessageType[]): void {
    for (const mt of types) {
      const existing = this.types.get(mt.name);
      if (existing === mt) continue;
      // Modules may be loaded twice under different loaders in tests: an equal definition is fine.
      if (existing && (existing.version !== mt.version || existing.minVersion !== mt.minVersion)) {
        throw new WireError(WireErrorCode.REGISTRY, `message type ${mt.name} registered twice, differently`);
      }
      if (!existing) this.types.set(mt.name, mt);
    }
  }

  /** defineMessage + add, for a registry of one's own (tests, tools). */
  define<B, R = never>(def: DefineMessage<B, R>): MessageType<B, R> {
    const mt = defineMessage(def);
    this.add(mt as MessageType);
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
 * This process's registry, which its transports' codecs share. It starts
 * empty; see MessageRegistry for how types get in.
 */
export const registry = new MessageRegistry();

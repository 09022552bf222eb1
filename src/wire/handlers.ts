import type { Handlers, MessageHandler, RequestHandler, StreamHandler } from './interface.js';
import type { MessageType } from './registry.js';
import { WireError, WireErrorCode } from './errors.js';

/**
 * Per-transport table of handlers by message type. One handler per type and
 * kind: two subsystems answering the same request type would be a bug.
 */
export class HandlerTable implements Handlers {
  readonly messages = new Map<string, MessageHandler<unknown>>();
  readonly requests = new Map<string, RequestHandler<unknown, unknown>>();
  readonly streams = new Map<string, StreamHandler<unknown>>();

  onMessage<B>(type: MessageType<B, unknown>, fn: MessageHandler<B>): void {
    put(this.messages, type.name, fn as MessageHandler<unknown>);
  }

  onRequest<B, R>(type: MessageType<B, R>, fn: RequestHandler<B, R>): void {
    if (!type.response) {
      throw new WireError(WireErrorCode.REGISTRY, `message type ${type.name} has no response schema; it cannot be a request`);
    }
    put(this.requests, type.name, fn as RequestHandler<unknown, unknown>);
  }

  onStream<B>(type: MessageType<B, unknown>, fn: StreamHandler<B>): void {
    put(this.streams, type.name, fn as StreamHandler<unknown>);
  }

  off(type: { name: string }): void {
    this.messages.delete(type.name);
    this.requests.delete(type.name);
    this.streams.delete(type.name);
  }
}

function put<F>(m: Map<string, F>, name: string, fn: F): void {
  if (m.has(name)) throw new WireError(WireErrorCode.REGISTRY, `a handler for ${name} is already registered`);
  m.set(name, fn);
}

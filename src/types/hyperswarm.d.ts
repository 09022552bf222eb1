// Minimal typings for the parts of hyperdht and hyperswarm that Shoal uses.
// Neither package ships TypeScript declarations.

declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events';
  interface KeyPair {
    publicKey: Buffer;
    secretKey: Buffer;
  }
  interface DhtNodeAddress {
    host: string;
    port: number;
  }
  interface HyperDHTOptions {
    bootstrap: DhtNodeAddress[];
    keyPair?: KeyPair;
    host?: string;
    port?: number;
    ephemeral?: boolean;
    firewalled?: boolean;
  }
  interface ConnectOptions {
    keyPair?: KeyPair;
    relayAddresses?: DhtNodeAddress[];
  }
  class HyperDHT extends EventEmitter {
    constructor(opts: HyperDHTOptions);
    static keyPair(seed?: Buffer): KeyPair;
    ready(): Promise<void>;
    fullyBootstrapped(): Promise<void>;
    address(): { host: string; port: number; family: number };
    connect(publicKey: Buffer, opts?: ConnectOptions): EventEmitter;
    createServer(opts: object, onconnection?: (socket: unknown) => void): EventEmitter & {
      listen(keyPair: KeyPair): Promise<void>;
      close(): Promise<void>;
    };
    destroy(): Promise<void>;
  }
  export default HyperDHT;
}

declare module 'hyperdht/testnet.js' {
  import type HyperDHT from 'hyperdht';
  interface Testnet {
    nodes: HyperDHT[];
    bootstrap: { host: string; port: number }[];
    destroy(): Promise<void>;
  }
  export default function createTestnet(size?: number, opts?: { host?: string; port?: number }): Promise<Testnet>;
}

declare module 'hyperswarm' {
  import type { EventEmitter } from 'node:events';
  import type HyperDHT from 'hyperdht';
  interface PeerDiscovery {
    flushed(): Promise<void>;
    destroy(): Promise<void>;
  }
  class Hyperswarm extends EventEmitter {
    constructor(opts: { dht: HyperDHT; keyPair?: { publicKey: Buffer; secretKey: Buffer } });
    listen(): Promise<void>;
    join(topic: Buffer, opts?: { server?: boolean; client?: boolean }): PeerDiscovery;
    leave(topic: Buffer): Promise<void>;
    destroy(): Promise<void>;
  }
  export default Hyperswarm;
}

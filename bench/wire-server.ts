/**
 * The far end of `npm run bench:wire`, in its own process.
 * argv: raw | ws | wss <tls-json> | hyperswarm <bootstrap-json>
 * Prints {"address": …} once listening; echoes until killed.
 */
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { WsTransport } from '../src/wire/ws-transport.js';
import { HyperswarmTransport } from '../src/wire/hyperswarm-transport.js';
import type { Transport } from '../src/wire/interface.js';
import { BenchEcho } from './wire-messages.js';

const [kind, arg] = process.argv.slice(2);
if (kind === 'raw') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d as Buffer)));
  wss.on('listening', () => {
    const a = wss.address() as AddressInfo;
    process.stdout.write(JSON.stringify({ address: `ws://127.0.0.1:${a.port}` }) + '\n');
  });
} else {
  const t: Transport =
    kind === 'ws'
      ? new WsTransport({ nodeId: 'bench-server' })
      : kind === 'wss'
        ? new WsTransport({ nodeId: 'bench-server', tls: { ...(JSON.parse(arg!) as { key: string; cert: string; ca: string }), nodeIdentity: true } })
        : new HyperswarmTransport({ nodeId: 'bench-server', bootstrap: JSON.parse(arg ?? '[]') as { host: string; port: number }[] });
  t.onRequest(BenchEcho, (b) => ({ payload: b.payload }));
  const address = await t.listen();
  process.stdout.write(JSON.stringify({ address }) + '\n');
}

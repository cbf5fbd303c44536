// PeerJS server (npm `peer`, pinned at 1.0.2) on loopback, as its README starts it, with the
// concurrent-client limit raised above the benchmark's load (default 5000). Run as its own
// process: `node peerjs-server.js [port]`; it prints `@@listening <port>` once it listens.
import type { AddressInfo } from 'node:net';
import { PeerServer } from 'peer';
import { PEERJS_KEY } from './wire.js';

PeerServer(
  {
    port: Number(process.argv[2] ?? 0),
    host: '127.0.0.1',
    path: '/',
    key: PEERJS_KEY,
    concurrent_limit: 100_000,
  },
  (server) => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`@@listening ${port}\n`);
  },
);
process.on('SIGTERM', () => process.exit(0));

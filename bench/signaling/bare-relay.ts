// The floor: a bare `ws` relay with nothing but forwarding. A client connects with `?id=`; a frame
// `{"to":…,"data":…}` goes to `to` as `{"from":<sender>,"data":…}`. No authentication, no
// validation, no limits, no logs. Run as its own process: `node bare-relay.js [port]`; it prints
// `@@listening <port>` once it listens.
import { WebSocketServer, type WebSocket } from 'ws';

const peers = new Map<string, WebSocket>();
const server = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) });

server.on('connection', (socket, req) => {
  const id = new URL(req.url ?? '/', 'http://relay').searchParams.get('id');
  if (!id) return socket.close(1008, 'id missing');
  peers.set(id, socket);
  socket.on('message', (raw: Buffer) => {
    const { to, data } = JSON.parse(raw.toString()) as { to: string; data: unknown };
    peers.get(to)?.send(JSON.stringify({ from: id, data }));
  });
  socket.on('close', () => {
    if (peers.get(id) === socket) peers.delete(id);
  });
  socket.on('error', () => undefined);
});
server.on('listening', () => {
  const address = server.address();
  process.stdout.write(`@@listening ${typeof address === 'string' ? address : address?.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));

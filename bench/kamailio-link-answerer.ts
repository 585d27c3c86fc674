/**
 * The answerer of npm run bench:kamailio:link, in a process of its own (its CPU is measured): it answers every
 * ask at once with the next hop, without screening, so that the figures measure the link alone.
 *   tsx bench/kamailio-link-answerer.ts evapi <host:port> <next hop>   connects to Kamailio's evapi (netstrings)
 *   tsx bench/kamailio-link-answerer.ts http <port> <next hop>         serves POST / to http_async_client
 * Prints "ready" once it takes asks.
 */
import { createServer } from 'node:http';
import { createConnection } from 'node:net';
import { netstring, NetstringDecoder } from '../services/kamailio/netstring';

const [kind, where, nextHop] = process.argv.slice(2);
const CALLED = '+4930901820';
const uri = `sip:${CALLED}@${nextHop}`;

if (kind === 'evapi') {
  const [host, port] = (where as string).split(':');
  const socket = createConnection({ host, port: Number(port), noDelay: true });
  const decoder = new NetstringDecoder(1_000_000);
  socket.on('connect', () => console.log('ready'));
  socket.on('data', (chunk: Buffer) => {
    for (const e of decoder.push(chunk)) {
      if (e.kind !== 'frame') continue;
      const ask = JSON.parse(e.data.toString()) as { i: number; l: number };
      socket.write(netstring(JSON.stringify({ i: ask.i, l: ask.l, a: 'relay', uri })));
    }
  });
  socket.on('close', () => process.exit(0));
} else if (kind === 'http') {
  const body = JSON.stringify({ a: 'relay', uri });
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString());
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.listen(Number(where), '127.0.0.1', () => console.log('ready'));
} else {
  console.error('usage: kamailio-link-answerer.ts evapi <host:port> <next hop> | http <port> <next hop>');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));

// A stand-in OpenTelemetry collector: accepts OTLP/HTTP trace exports (`POST /v1/traces`), counts
// them and throws them away, so that the gateway under test exports its spans as it would in
// production. `GET /stats` returns the counts. Run as its own process; it prints
// `@@listening <port>` once it listens.
import { createServer } from 'node:http';

const stats = { requests: 0, bytes: 0, spans: 0 };

/** Spans in an OTLP JSON export (resourceSpans → scopeSpans → spans). */
function countSpans(body: Buffer, contentType: string | undefined): number {
  if (!contentType?.includes('json')) return 0;
  try {
    const doc = JSON.parse(body.toString()) as {
      resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[];
    };
    let n = 0;
    for (const r of doc.resourceSpans ?? [])
      for (const s of r.scopeSpans ?? []) n += s.spans?.length ?? 0;
    return n;
  } catch {
    return 0;
  }
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(stats));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    stats.requests++;
    stats.bytes += body.length;
    stats.spans += countSpans(body, req.headers['content-type']);
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`@@listening ${typeof address === 'string' ? address : address?.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));

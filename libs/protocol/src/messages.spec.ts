import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { jest } from '@jest/globals';
import {
  CLIENT_EVENTS,
  MAX_CONTROL_PAYLOAD_BYTES,
  MAX_FRAME_BYTES,
  MAX_SDP_LENGTH,
  MAX_SERVER_FRAME_BYTES,
  ProtocolErrorCode,
  SERVER_EVENTS,
  clientMessage,
  describeErrorCodes,
  parseClientFrame,
  protocolSchemaFiles,
  serverMessage,
  type ClientMessage,
  type ServerMessage,
} from '@sscontrol/protocol';

const sdpOf = (length: number) => {
  const line = 'a=candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host\r\n';
  return ('v=0\r\n' + line.repeat(Math.ceil(length / line.length))).slice(0, length);
};

/** One valid example of every client message. */
const clientExamples: ClientMessage[] = [
  { event: 'session.open', data: { id: 'r1', sessionId: 's1', maxPeers: 2, joinPolicy: 'token' } },
  { event: 'session.open', data: { id: 'r2' } },
  { event: 'session.join', data: { id: 'r3', sessionId: 's1' } },
  { event: 'session.leave', data: { id: 'r4' } },
  { event: 'session.end', data: { id: 'r5' } },
  { event: 'join.accept', data: { id: 'r6', requestId: 'jr-1' } },
  { event: 'join.deny', data: { id: 'r7', requestId: 'jr-1', reason: 'not now' } },
  { event: 'signal.offer', data: { id: 'r8', to: 'p2', sdp: sdpOf(2000), iceRestart: true } },
  { event: 'signal.answer', data: { id: 'r9', to: 'p1', sdp: sdpOf(2000) } },
  {
    event: 'signal.candidate',
    data: {
      id: 'r10',
      to: 'p2',
      candidate: {
        candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host',
        sdpMid: '0',
        sdpMLineIndex: 0,
        usernameFragment: 'abcd',
      },
    },
  },
  { event: 'signal.candidate', data: { id: 'r11', to: 'p2', candidate: null } },
  {
    event: 'control',
    data: { id: 'r12', to: 'p1', payload: { type: 'pointer', x: 0.5, y: 0.25, buttons: [1] } },
  },
  { event: 'token.refresh', data: { id: 'r13', token: 'a.b.c' } },
  { event: 'turn.refresh', data: { id: 'r14' } },
  { event: 'ping', data: { id: 'r15' } },
  { event: 'ping', data: { id: 'r16', ack: 12 } },
  { event: 'session.resume', data: { id: 'r17', resumeToken: 'opaque', lastSeq: 12 } },
];

const iceServers = [
  { urls: ['stun:turn.example.com:3478'] },
  {
    urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'],
    username: '1764111111:laptop-42',
    credential: 'c2VjcmV0',
  },
];

/** One valid example of every server message. */
const serverExamples: ServerMessage[] = [
  {
    event: 'welcome',
    data: {
      protocol: 'sscontrol.v1',
      connectionId: '01a214ab-b40b-7000-b675-52857c91cac8',
      subject: 'laptop-42',
      role: 'host',
      sessions: ['s1'],
      tokenExpiresAt: '2026-11-25T21:55:26.000Z',
      instance: 'gw-a',
      resumeToken: 'opaque',
      heartbeatMs: 15_000,
    },
  },
  { event: 'ack', data: { id: 'r1' } },
  { event: 'error', data: { id: 'r1', code: ProtocolErrorCode.SessionFull, message: 'full' } },
  { event: 'error', data: { code: ProtocolErrorCode.BadFrame, message: 'not JSON' } },
  {
    event: 'session.opened',
    data: {
      replyTo: 'r1',
      sessionId: 's1',
      peerId: 'p1',
      joinPolicy: 'token',
      maxPeers: 2,
      iceServers,
    },
  },
  {
    event: 'session.joined',
    data: {
      replyTo: 'r3',
      sessionId: 's1',
      peerId: 'p2',
      maxPeers: 2,
      peers: [{ peerId: 'p1', subject: 'laptop-42', role: 'host' }],
      iceServers,
    },
  },
  {
    event: 'session.resumed',
    data: {
      replyTo: 'r17',
      sessionId: 's1',
      peerId: 'p2',
      maxPeers: 2,
      peers: [{ peerId: 'p1', subject: 'laptop-42', role: 'host' }],
      iceServers,
      redelivered: 3,
    },
  },
  {
    event: 'peer.joined',
    seq: 2,
    data: { sessionId: 's1', peerId: 'p2', subject: 'alice', role: 'controller' },
  },
  {
    event: 'peer.left',
    seq: 3,
    data: { sessionId: 's1', peerId: 'p2', subject: 'alice', role: 'controller', reason: 'left' },
  },
  {
    event: 'join.requested',
    seq: 10,
    data: {
      sessionId: 's1',
      requestId: 'jr-1',
      peerId: 'p2',
      subject: 'alice',
      role: 'controller',
    },
  },
  { event: 'join.denied', seq: 4, data: { sessionId: 's1', requestId: 'jr-1', reason: 'timeout' } },
  { event: 'session.ended', seq: 5, data: { sessionId: 's1', reason: 'host-ended' } },
  { event: 'signal.offer', seq: 6, data: { from: 'p1', sdp: sdpOf(100) } },
  { event: 'signal.answer', seq: 7, data: { from: 'p2', sdp: sdpOf(100) } },
  { event: 'signal.candidate', seq: 8, data: { from: 'p1', candidate: null } },
  {
    event: 'control',
    seq: 9,
    data: { from: 'p2', payload: { type: 'key', key: 'a', down: true } },
  },
  { event: 'token.expiring', data: { tokenExpiresAt: '2026-11-25T21:55:26.000Z' } },
  {
    event: 'turn.credentials',
    data: { replyTo: 'r14', iceServers, expiresAt: '2026-11-25T21:55:26.000Z' },
  },
  { event: 'pong', data: { replyTo: 'r15', serverTime: '2026-11-25T21:55:26.000Z' } },
];

const frame = (value: unknown) => JSON.stringify(value);

describe('protocol v1 messages', () => {
  it('has an example of every client and server event', () => {
    expect(new Set(clientExamples.map((m) => m.event))).toEqual(new Set(CLIENT_EVENTS));
    expect(new Set(serverExamples.map((m) => m.event))).toEqual(new Set(SERVER_EVENTS));
  });

  it.each(clientExamples.map((m) => [`${m.event} ${m.data.id}`, m] as const))(
    'parses client %s, as a frame string and as bytes',
    (_name, message) => {
      expect(parseClientFrame(frame(message))).toEqual({ ok: true, message });
      expect(parseClientFrame(new TextEncoder().encode(frame(message)))).toEqual({
        ok: true,
        message,
      });
    },
  );

  it.each(serverExamples.map((m, i) => [`${m.event} #${i}`, m] as const))(
    'parses server %s',
    (_name, message) => {
      expect(serverMessage.parse(message)).toEqual(message);
    },
  );

  it.each(['signal.offer', 'signal.answer', 'signal.candidate', 'control'] as const)(
    'refuses a client-supplied `from` on %s, naming the request',
    (event) => {
      const valid = clientExamples.find((m) => m.event === event)!;
      const forged = { ...valid, data: { ...valid.data, from: 'p9' } };
      const result = parseClientFrame(frame(forged));
      expect(result).toMatchObject({
        ok: false,
        id: valid.data.id,
        code: ProtocolErrorCode.InvalidMessage,
      });
      expect(!result.ok && result.message).toContain('from');
    },
  );

  it('refuses unknown fields in data and in the envelope', () => {
    expect(parseClientFrame(frame({ event: 'ping', data: { id: 'r1', extra: 1 } }))).toMatchObject({
      ok: false,
      id: 'r1',
      code: ProtocolErrorCode.InvalidMessage,
    });
    expect(
      parseClientFrame(frame({ event: 'ping', data: { id: 'r1' }, from: 'p9' })),
    ).toMatchObject({ ok: false, id: 'r1', code: ProtocolErrorCode.InvalidMessage });
    expect(
      clientMessage.safeParse({
        event: 'signal.candidate',
        data: { id: 'r1', to: 'p1', candidate: { candidate: '', foundation: 'x' } },
      }).success,
    ).toBe(false);
  });

  it('refuses an SDP over the limit, and accepts one at the limit inside a 64 KiB frame', () => {
    const atLimit = {
      event: 'signal.offer',
      data: { id: 'r1', to: 'p2', sdp: sdpOf(MAX_SDP_LENGTH) },
    };
    const encoded = frame(atLimit);
    expect(new TextEncoder().encode(encoded).byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(parseClientFrame(encoded)).toMatchObject({ ok: true });
    // Relayed with `from`, it still fits what a client must accept.
    const relayed = frame({
      event: 'signal.offer',
      seq: 10,
      data: { from: 'p'.repeat(64), sdp: atLimit.data.sdp },
    });
    expect(new TextEncoder().encode(relayed).byteLength).toBeLessThanOrEqual(
      MAX_SERVER_FRAME_BYTES,
    );

    const over = {
      event: 'signal.offer',
      data: { id: 'r1', to: 'p2', sdp: sdpOf(MAX_SDP_LENGTH + 1) },
    };
    const result = clientMessage.safeParse(over);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['data', 'sdp']);
    expect(parseClientFrame(frame(over))).toMatchObject({
      ok: false,
      id: 'r1',
      code: ProtocolErrorCode.InvalidMessage,
    });
  });

  it('refuses a control payload over 4 KiB or nested too deep', () => {
    const big = { id: 'r1', to: 'p1', payload: { text: 'x'.repeat(MAX_CONTROL_PAYLOAD_BYTES) } };
    expect(parseClientFrame(frame({ event: 'control', data: big }))).toMatchObject({
      ok: false,
      id: 'r1',
      code: ProtocolErrorCode.InvalidMessage,
    });
    // 20,000 levels: JSON.parse copes; a recursive validator would overflow the stack.
    const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
    const result = parseClientFrame(
      `{"event":"control","data":{"id":"r2","to":"p1","payload":{"deep":${deep}}}}`,
    );
    expect(result).toMatchObject({ ok: false, id: 'r2', code: ProtocolErrorCode.InvalidMessage });
  });

  it('answers a non-JSON frame, or JSON that is not an envelope, with bad_frame', () => {
    expect(parseClientFrame('{"event": "ping", ')).toMatchObject({
      ok: false,
      code: ProtocolErrorCode.BadFrame,
    });
    expect(parseClientFrame('[1,2]')).toMatchObject({
      ok: false,
      code: ProtocolErrorCode.BadFrame,
    });
    expect(parseClientFrame('null')).toMatchObject({ ok: false, code: ProtocolErrorCode.BadFrame });
    expect(parseClientFrame(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({
      ok: false,
      code: ProtocolErrorCode.BadFrame,
    });
    expect(parseClientFrame(frame({ data: { id: 'r7' } }))).toEqual({
      ok: false,
      id: 'r7',
      code: ProtocolErrorCode.BadFrame,
      message: expect.any(String),
    });
    expect(parseClientFrame(frame({ event: 'ping', data: 'r7' }))).toMatchObject({
      ok: false,
      code: ProtocolErrorCode.BadFrame,
    });
  });

  it('refuses an oversized frame without parsing it', () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const raw = `{"event":"ping","data":{"id":"r1","x":"${'x'.repeat(MAX_FRAME_BYTES)}"}}`;
      expect(parseClientFrame(raw)).toMatchObject({
        ok: false,
        code: ProtocolErrorCode.FrameTooLarge,
      });
      // Multi-byte characters count as bytes, not characters.
      expect(parseClientFrame('"' + 'é'.repeat(MAX_FRAME_BYTES / 2) + '"')).toMatchObject({
        code: ProtocolErrorCode.FrameTooLarge,
      });
      expect(parseClientFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toMatchObject({
        code: ProtocolErrorCode.FrameTooLarge,
      });
      expect(parse).not.toHaveBeenCalled();
      // The spy does see the parser's calls.
      parseClientFrame(frame({ event: 'ping', data: { id: 'r1' } }));
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });

  it('answers an unknown event with unknown_event, naming the request id', () => {
    expect(parseClientFrame(frame({ event: 'room.nuke', data: { id: 'r42' } }))).toEqual({
      ok: false,
      id: 'r42',
      code: ProtocolErrorCode.UnknownEvent,
      message: 'unknown event "room.nuke"',
    });
    // Server events are not client messages.
    expect(parseClientFrame(frame({ event: 'welcome', data: { id: 'r43' } }))).toMatchObject({
      id: 'r43',
      code: ProtocolErrorCode.UnknownEvent,
    });
    // An id that is not a valid request id is not echoed.
    const bad = parseClientFrame(frame({ event: 'x', data: { id: 'i'.repeat(65) } }));
    expect(bad).toMatchObject({ ok: false, code: ProtocolErrorCode.UnknownEvent });
    expect(bad).not.toHaveProperty('id');
  });

  it('describes every error code once', () => {
    const described = describeErrorCodes();
    expect(described.map((d) => d.code)).toEqual(Object.values(ProtocolErrorCode));
    for (const d of described) expect(d.meaning.length).toBeGreaterThan(10);
  });
});

describe('libs/protocol', () => {
  it('imports only zod and its own modules, so browsers and Node can share it', () => {
    const src = import.meta.dirname;
    for (const file of readdirSync(src).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'),
    )) {
      const imports = [
        ...readFileSync(path.join(src, file), 'utf8').matchAll(/from '([^']+)'/g),
      ].map((m) => m[1]);
      expect([file, imports.filter((i) => i !== 'zod' && !i!.startsWith('./'))]).toEqual([
        file,
        [],
      ]);
    }
  });
});

describe('docs/protocol.md', () => {
  it('lists every error code with its meaning', () => {
    const doc = readFileSync(path.join(import.meta.dirname, '../../../docs/protocol.md'), 'utf8');
    const rows = doc.split('\n').filter((line) => line.startsWith('| `'));
    for (const { code, meaning } of describeErrorCodes()) {
      const row = rows.find((line) => line.startsWith(`| \`${code}\` `));
      expect([code, row?.includes(` ${meaning} `)]).toEqual([code, true]);
    }
  });
});

describe('docs/protocol/schemas', () => {
  const dir = path.join(import.meta.dirname, '../../../docs/protocol/schemas');

  it('holds one up-to-date JSON Schema per message (run `node scripts/protocol-schemas.mjs`)', () => {
    const expected = protocolSchemaFiles();
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort(),
    ).toEqual(Object.keys(expected).sort());
    // Compared as JSON, so Prettier's layout of the files does not matter.
    for (const [file, text] of Object.entries(expected)) {
      expect([file, JSON.parse(readFileSync(path.join(dir, file), 'utf8'))]).toEqual([
        file,
        JSON.parse(text),
      ]);
    }
    expect(Object.keys(expected)).toContain('client.signal.offer.json');
    expect(Object.keys(expected)).toContain('server.welcome.json');
  });
});

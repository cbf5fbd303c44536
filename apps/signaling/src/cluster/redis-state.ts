import type { Redis } from 'ioredis';
import type {
  InstanceMessage,
  JoinOutcome,
  JoinRequestRecord,
  MailboxEntry,
  PeerRecord,
  RemovedPeer,
  ResumeOutcome,
  SessionRecord,
  SignalingState,
} from './state.js';

/**
 * Lua helpers shared by the scripts. Every state change is one script, so it is atomic across
 * instances. Keys (after the prefix P):
 *   s:<sid>        hash   hostPeerId hostSubject maxPeers joinPolicy
 *   s:<sid>:m      set    peer ids
 *   s:<sid>:jr     hash   request id → JSON {request, expiresAt}
 *   p:<pid>        hash   sessionId subject role connectionId instance resume connected seq lost
 *   p:<pid>:mb     list   "<seq>\n<frame>" (the mailbox, oldest first)
 *   r:<hash>       string peer id of a resume token hash
 *   away           zset   peer id → end of its grace (ms)
 *   i:<instance>   set    peer ids held by the instance
 *   instances      zset   instance → last beat (ms)
 *   ch:<instance>  pub/sub channel of the instance
 */
const PRELUDE = `
local P = ARGV[1]
local function rec(pid)
  local f = redis.call('HMGET', P..'p:'..pid, 'sessionId','subject','role','connectionId','instance')
  if not f[1] then return nil end
  return {peerId=pid, sessionId=f[1], subject=f[2], role=f[3], connectionId=f[4], instance=f[5]}
end
local function sess(sid)
  local f = redis.call('HMGET', P..'s:'..sid, 'hostPeerId','hostSubject','maxPeers','joinPolicy')
  if not f[1] then return nil end
  return {sessionId=sid, hostPeerId=f[1], hostSubject=f[2], maxPeers=tonumber(f[3]), joinPolicy=f[4]}
end
local function members(sid, except)
  local out = {}
  for _, m in ipairs(redis.call('SMEMBERS', P..'s:'..sid..':m')) do
    if m ~= except then local r = rec(m); if r then table.insert(out, r) end end
  end
  return out
end
local function addPeer(pid, sid, subject, role, conn, inst, resume)
  redis.call('HSET', P..'p:'..pid, 'sessionId', sid, 'subject', subject, 'role', role,
    'connectionId', conn, 'instance', inst, 'resume', resume, 'connected', '1', 'seq', 0, 'lost', 0)
  redis.call('SADD', P..'s:'..sid..':m', pid)
  redis.call('SET', P..'r:'..resume, pid)
  redis.call('SADD', P..'i:'..inst, pid)
end
local function dropPeer(pid)
  local f = redis.call('HMGET', P..'p:'..pid, 'sessionId', 'resume', 'instance')
  if not f[1] then return end
  redis.call('DEL', P..'p:'..pid, P..'p:'..pid..':mb', P..'r:'..f[2])
  redis.call('SREM', P..'s:'..f[1]..':m', pid)
  redis.call('SREM', P..'i:'..f[3], pid)
  redis.call('ZREM', P..'away', pid)
end
`;

const SCRIPTS = {
  // ARGV: P sid hostPeerId hostSubject maxPeers joinPolicy connectionId instance resume
  sigOpen: `
if redis.call('EXISTS', P..'s:'..ARGV[2]) == 1 then return 0 end
redis.call('HSET', P..'s:'..ARGV[2], 'hostPeerId', ARGV[3], 'hostSubject', ARGV[4],
  'maxPeers', ARGV[5], 'joinPolicy', ARGV[6])
addPeer(ARGV[3], ARGV[2], ARGV[4], 'host', ARGV[7], ARGV[8], ARGV[9])
return 1`,
  // ARGV: P sid pid subject role connectionId instance resume policy
  sigJoin: `
local sid = ARGV[2]
local s = sess(sid)
if not s then return cjson.encode({ok=false, reason='not_found'}) end
local ms = members(sid, nil)
local replaced = nil
for _, m in ipairs(ms) do
  if m.subject == ARGV[4] then
    if ARGV[9] == 'refuse' then return cjson.encode({ok=false, reason='duplicate'}) end
    replaced = m
  end
end
local n = #ms
if replaced then n = n - 1 end
if n >= s.maxPeers then return cjson.encode({ok=false, reason='full'}) end
local before = {}
for _, m in ipairs(ms) do if not replaced or m.peerId ~= replaced.peerId then table.insert(before, m) end end
if replaced then dropPeer(replaced.peerId) end
addPeer(ARGV[3], sid, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return cjson.encode({ok=true, session=s, members=(before), replaced=replaced or cjson.null})`,
  // ARGV: P pid
  sigRemove: `
local r = rec(ARGV[2])
if not r then return nil end
dropPeer(ARGV[2])
return cjson.encode({peer=r, session=sess(r.sessionId) or cjson.null, remaining=(members(r.sessionId, nil))})`,
  // ARGV: P sid
  sigEnd: `
local sid = ARGV[2]
if redis.call('EXISTS', P..'s:'..sid) == 0 then return nil end
local ms = members(sid, nil)
for _, m in ipairs(ms) do dropPeer(m.peerId) end
redis.call('DEL', P..'s:'..sid, P..'s:'..sid..':m', P..'s:'..sid..':jr')
return cjson.encode((ms))`,
  // ARGV: P sid
  sigSession: `
local s = sess(ARGV[2])
if not s then return nil end
return cjson.encode({session=s, members=(members(ARGV[2], nil))})`,
  // ARGV: P to sid eventJson dataJson mailboxSize
  sigDeliver: `
local pk = P..'p:'..ARGV[2]
local f = redis.call('HMGET', pk, 'sessionId', 'connected', 'instance')
if f[1] ~= ARGV[3] then return -1 end
local seq = redis.call('HINCRBY', pk, 'seq', 1)
local frame = '{"event":'..ARGV[4]..',"seq":'..seq..',"data":'..ARGV[5]..'}'
local mb = pk..':mb'
local len = redis.call('RPUSH', mb, seq..'\\n'..frame)
local size = tonumber(ARGV[6])
if len > size then
  local dropped = redis.call('LPOP', mb, len - size)
  local last = dropped[#dropped]
  redis.call('HSET', pk, 'lost', string.sub(last, 1, string.find(last, '\\n') - 1))
end
if f[2] == '1' then
  redis.call('PUBLISH', P..'ch:'..f[3], 'D'..ARGV[2]..'\\n'..seq..'\\n'..frame)
end
return seq`,
  // ARGV: P pid seq
  sigAck: `
local mb = P..'p:'..ARGV[2]..':mb'
local first = redis.call('LINDEX', mb, 0)
if not first then return 0 end
local firstSeq = tonumber(string.sub(first, 1, string.find(first, '\\n') - 1))
local n = tonumber(ARGV[3]) - firstSeq + 1
if n <= 0 then return 0 end
redis.call('LPOP', mb, n)
return n`,
  // ARGV: P pid connectionId until
  sigAway: `
local pk = P..'p:'..ARGV[2]
local f = redis.call('HMGET', pk, 'connectionId', 'connected')
if f[1] ~= ARGV[3] or f[2] ~= '1' then return 0 end
redis.call('HSET', pk, 'connected', '0')
redis.call('ZADD', P..'away', ARGV[4], ARGV[2])
return 1`,
  // ARGV: P now
  sigExpired: `
local out = {}
for _, pid in ipairs(redis.call('ZRANGEBYSCORE', P..'away', '-inf', ARGV[2], 'LIMIT', 0, 200)) do
  redis.call('ZREM', P..'away', pid)
  if redis.call('HGET', P..'p:'..pid, 'connected') == '0' then
    local r = rec(pid)
    if r then table.insert(out, r) end
  end
end
return cjson.encode((out))`,
  // ARGV: P hash subject newHash connectionId instance
  sigResume: `
local pid = redis.call('GET', P..'r:'..ARGV[2])
if not pid then return cjson.encode({ok=false, reason='unknown'}) end
local r = rec(pid)
if not r then return cjson.encode({ok=false, reason='unknown'}) end
local s = sess(r.sessionId)
if not s then return cjson.encode({ok=false, reason='unknown'}) end
if r.subject ~= ARGV[3] then return cjson.encode({ok=false, reason='subject'}) end
redis.call('DEL', P..'r:'..ARGV[2])
redis.call('SET', P..'r:'..ARGV[4], pid)
redis.call('HSET', P..'p:'..pid, 'resume', ARGV[4], 'connectionId', ARGV[5], 'instance', ARGV[6], 'connected', '1')
redis.call('ZREM', P..'away', pid)
redis.call('SREM', P..'i:'..r.instance, pid)
redis.call('SADD', P..'i:'..ARGV[6], pid)
local previous = {connectionId=r.connectionId, instance=r.instance}
r.connectionId = ARGV[5]
r.instance = ARGV[6]
return cjson.encode({ok=true, peer=r, previous=previous, session=s, members=(members(r.sessionId, pid))})`,
  // ARGV: P sid requestId json
  sigAddRequest: `
if redis.call('EXISTS', P..'s:'..ARGV[2]) == 0 then return 0 end
redis.call('HSET', P..'s:'..ARGV[2]..':jr', ARGV[3], ARGV[4])
return 1`,
  // ARGV: P sid requestId
  sigTakeRequest: `
local k = P..'s:'..ARGV[2]..':jr'
local v = redis.call('HGET', k, ARGV[3])
if not v then return nil end
redis.call('HDEL', k, ARGV[3])
return v`,
  // ARGV: P deadBefore until
  sigAdoptDead: `
local out = {}
for _, inst in ipairs(redis.call('ZRANGEBYSCORE', P..'instances', '-inf', ARGV[2])) do
  if redis.call('ZREM', P..'instances', inst) == 1 then
    local n = 0
    for _, pid in ipairs(redis.call('SMEMBERS', P..'i:'..inst)) do
      local f = redis.call('HMGET', P..'p:'..pid, 'instance', 'connected')
      if f[1] == inst and f[2] == '1' then
        redis.call('HSET', P..'p:'..pid, 'connected', '0')
        redis.call('ZADD', P..'away', ARGV[3], pid)
        n = n + 1
      end
    end
    table.insert(out, {instance=inst, peers=n})
  end
end
return cjson.encode((out))`,
} as const;

type ScriptName = keyof typeof SCRIPTS;

/** Lua's cjson encodes an empty table as `{}`: lists come back as arrays here. */
function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function parse<T>(json: unknown, lists: readonly string[] = []): T {
  const value = JSON.parse(json as string) as unknown;
  if (Array.isArray(value) || typeof value !== 'object' || value === null) return list(value) as T;
  const o = value as Record<string, unknown>;
  for (const k of lists) if (k in o) o[k] = list(o[k]);
  return o as T;
}
type Scripted = Redis & {
  [K in ScriptName]: (...args: (string | number)[]) => Promise<unknown>;
};

/**
 * The signaling state of a cluster (`SIGNALING_CLUSTER=redis`): every change is one Lua
 * script, so two instances never see half a change; each instance hears its own messages on
 * `ch:<instance>` (pub/sub, on a second connection).
 */
export class RedisState implements SignalingState {
  readonly mode = 'redis' as const;
  private readonly redis: Scripted;
  private subscriber: Redis | null = null;
  private instance = '';
  private onMessage: (message: InstanceMessage) => void = () => {};

  constructor(
    redis: Redis,
    private readonly prefix = 'sscontrol:sig:',
  ) {
    for (const [name, body] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 0, lua: PRELUDE + body });
    }
    this.redis = redis as Scripted;
  }

  async start(instance: string, onMessage: (message: InstanceMessage) => void): Promise<void> {
    this.instance = instance;
    this.onMessage = onMessage;
    const sub = this.redis.duplicate({ enableOfflineQueue: true, lazyConnect: false });
    this.subscriber = sub;
    sub.on('error', () => {}); // the main connection reports Redis health
    sub.on('messageBuffer', (_channel: Buffer, payload: Buffer) => this.dispatch(payload));
    await sub.subscribe(this.channel(instance));
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    this.subscriber = null;
  }

  private channel(instance: string): string {
    return `${this.prefix}ch:${instance}`;
  }

  private dispatch(payload: Buffer): void {
    const text = payload.toString('utf8');
    try {
      if (text.startsWith('D')) {
        const a = text.indexOf('\n');
        const b = text.indexOf('\n', a + 1);
        this.onMessage({
          kind: 'deliver',
          peerId: text.slice(1, a),
          seq: Number(text.slice(a + 1, b)),
          frame: text.slice(b + 1),
        });
      } else if (text.startsWith('J')) {
        this.onMessage(JSON.parse(text.slice(1)) as InstanceMessage);
      }
    } catch {
      // A malformed message on our channel is not from a gateway: ignore it.
    }
  }

  async openSession(
    session: SessionRecord,
    host: PeerRecord,
    resumeHash: string,
  ): Promise<'ok' | 'exists'> {
    const r = await this.redis.sigOpen(
      this.prefix,
      session.sessionId,
      host.peerId,
      host.subject,
      session.maxPeers,
      session.joinPolicy,
      host.connectionId,
      host.instance,
      resumeHash,
    );
    return r === 1 ? 'ok' : 'exists';
  }

  async join(
    peer: PeerRecord,
    resumeHash: string,
    policy: 'replace' | 'refuse',
  ): Promise<JoinOutcome> {
    const r = await this.redis.sigJoin(
      this.prefix,
      peer.sessionId,
      peer.peerId,
      peer.subject,
      peer.role,
      peer.connectionId,
      peer.instance,
      resumeHash,
      policy,
    );
    return parse<JoinOutcome>(r, ['members']);
  }

  async remove(peerId: string): Promise<RemovedPeer | null> {
    const r = await this.redis.sigRemove(this.prefix, peerId);
    return r === null ? null : parse<RemovedPeer>(r, ['remaining']);
  }

  async endSession(sessionId: string): Promise<PeerRecord[] | null> {
    const r = await this.redis.sigEnd(this.prefix, sessionId);
    return r === null ? null : list<PeerRecord>(JSON.parse(r as string));
  }

  async session(sessionId: string) {
    const r = await this.redis.sigSession(this.prefix, sessionId);
    return r === null
      ? null
      : parse<{ session: SessionRecord; members: PeerRecord[] }>(r, ['members']);
  }

  async peer(peerId: string): Promise<PeerRecord | null> {
    const f = await this.redis.hmget(
      `${this.prefix}p:${peerId}`,
      'sessionId',
      'subject',
      'role',
      'connectionId',
      'instance',
    );
    if (f[0] === null || f[0] === undefined) return null;
    return {
      peerId,
      sessionId: f[0],
      subject: f[1]!,
      role: f[2] as PeerRecord['role'],
      connectionId: f[3]!,
      instance: f[4]!,
    };
  }

  async deliver(
    to: string,
    sessionId: string,
    event: string,
    dataJson: string,
    mailboxSize: number,
  ): Promise<number | null> {
    const seq = (await this.redis.sigDeliver(
      this.prefix,
      to,
      sessionId,
      JSON.stringify(event),
      dataJson,
      mailboxSize,
    )) as number;
    return seq < 0 ? null : seq;
  }

  async send(instance: string, message: InstanceMessage): Promise<void> {
    if (instance === this.instance) {
      this.onMessage(message);
      return;
    }
    await this.redis.publish(this.channel(instance), `J${JSON.stringify(message)}`);
  }

  async ack(peerId: string, seq: number): Promise<void> {
    await this.redis.sigAck(this.prefix, peerId, seq);
  }

  async readMailbox(
    peerId: string,
    afterSeq: number,
  ): Promise<{ entries: MailboxEntry[]; complete: boolean }> {
    const key = `${this.prefix}p:${peerId}`;
    const [[, lost], [, items]] = (await this.redis
      .multi()
      .hget(key, 'lost')
      .lrange(`${key}:mb`, 0, -1)
      .exec()) as [[null, string | null], [null, string[]]];
    if (lost === null) return { entries: [], complete: false };
    const entries: MailboxEntry[] = [];
    for (const item of items) {
      const i = item.indexOf('\n');
      const seq = Number(item.slice(0, i));
      if (seq > afterSeq) entries.push({ seq, frame: item.slice(i + 1) });
    }
    return { entries, complete: afterSeq >= Number(lost) };
  }

  async away(peerId: string, connectionId: string, until: number): Promise<boolean> {
    return (await this.redis.sigAway(this.prefix, peerId, connectionId, until)) === 1;
  }

  async expired(now: number): Promise<PeerRecord[]> {
    return list<PeerRecord>(JSON.parse((await this.redis.sigExpired(this.prefix, now)) as string));
  }

  async resume(
    resumeHash: string,
    subject: string,
    newResumeHash: string,
    connectionId: string,
    instance: string,
  ): Promise<ResumeOutcome> {
    const r = await this.redis.sigResume(
      this.prefix,
      resumeHash,
      subject,
      newResumeHash,
      connectionId,
      instance,
    );
    return parse<ResumeOutcome>(r, ['members']);
  }

  async addJoinRequest(request: JoinRequestRecord, ttlMs: number): Promise<void> {
    await this.redis.sigAddRequest(
      this.prefix,
      request.sessionId,
      request.requestId,
      JSON.stringify({ request, expiresAt: Date.now() + ttlMs }),
    );
  }

  async takeJoinRequest(sessionId: string, requestId: string) {
    const r = await this.redis.sigTakeRequest(this.prefix, sessionId, requestId);
    if (r === null) return null;
    const { request, expiresAt } = JSON.parse(r as string) as {
      request: JoinRequestRecord;
      expiresAt: number;
    };
    return expiresAt > Date.now() ? request : null;
  }

  async beat(now: number): Promise<void> {
    await this.redis.zadd(`${this.prefix}instances`, now, this.instance);
  }

  async adoptDead(deadBefore: number, until: number) {
    return list<{ instance: string; peers: number }>(
      JSON.parse((await this.redis.sigAdoptDead(this.prefix, deadBefore, until)) as string),
    );
  }

  async leaveCluster(): Promise<void> {
    await this.redis.zrem(`${this.prefix}instances`, this.instance);
  }
}

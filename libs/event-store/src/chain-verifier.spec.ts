import { chainHash, genesisHash, payloadDigest, type ChainRecord } from './chain.js';
import { ChainBreakClass, ChainVerifier } from './chain-verifier.js';

const storeId = '00000000-0000-4000-8000-000000000001';

function chain(n: number): ChainRecord[] {
  const out: ChainRecord[] = [];
  let prev = genesisHash(storeId);
  for (let i = 1; i <= n; i++) {
    const dataJson = JSON.stringify({ i });
    const fields = {
      streamId: `session-${i % 3}`,
      revision: Math.floor((i - 1) / 3),
      eventId: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      type: 'peer.joined',
      schemaVersion: 1,
      recordedAtMs: 1_800_000_000_000 + i,
      metadataJson: '{"actor":"a"}',
      dataDigest: payloadDigest(dataJson),
    };
    const hash = chainHash(prev, fields);
    out.push({ ...fields, position: i, prevHash: prev, hash, dataJson });
    prev = hash;
  }
  return out;
}

/** Renumbers positions 1..n in array order, as a tamperer closing a gap would. */
function renumber(records: ChainRecord[]): ChainRecord[] {
  return records.map((r, i) => ({ ...r, position: i + 1 }));
}

function verify(records: ChainRecord[], pageSize = 7, redacted?: Set<number>) {
  const v = new ChainVerifier({
    prevHash: genesisHash(storeId),
    firstPosition: 1,
    ...(redacted ? { redactedPositions: redacted } : {}),
  });
  for (let i = 0; i < records.length; i += pageSize) v.push(records.slice(i, i + pageSize));
  return v.finish();
}

describe('ChainVerifier', () => {
  it('accepts an intact chain, across pages, and reports its totals', () => {
    const records = chain(50);
    const { break: broken, summary } = verify(records);
    expect(broken).toBeNull();
    expect(summary).toMatchObject({
      count: 50,
      firstPosition: 1,
      lastPosition: 50,
      lastHash: records[49]!.hash,
    });
  });

  it('modified: a payload changed in place', () => {
    const records = chain(20);
    records[9] = { ...records[9]!, dataJson: '{"i":999}' };
    expect(verify(records).break).toMatchObject({
      class: ChainBreakClass.Modified,
      position: 10,
      streamId: 'session-1',
    });
  });

  it('modified: an envelope field changed, payload digest recomputed', () => {
    const records = chain(20);
    records[4] = { ...records[4]!, type: 'peer.left' };
    expect(verify(records).break).toMatchObject({ class: ChainBreakClass.Modified, position: 5 });
  });

  it('deleted: an event removed, leaving a gap in positions', () => {
    const records = chain(20);
    records.splice(11, 1);
    expect(verify(records).break).toMatchObject({ class: ChainBreakClass.Deleted, position: 12 });
  });

  it('deleted: an event removed and the positions closed up', () => {
    const records = chain(20);
    records.splice(11, 1);
    const result = verify(renumber(records)).break;
    expect(result).toMatchObject({ class: ChainBreakClass.Deleted, position: 12, ambiguous: true });
  });

  it('inserted: a forged event with a valid hash slipped in and the positions shifted', () => {
    const records = chain(20);
    const before = records[6]!;
    const forgedFields = {
      ...before,
      eventId: '11111111-1111-7111-8111-111111111111',
      revision: 99,
    };
    const forged = {
      ...forgedFields,
      prevHash: before.hash,
      hash: chainHash(before.hash, forgedFields),
    };
    records.splice(7, 0, forged);
    expect(verify(renumber(records)).break).toMatchObject({
      class: ChainBreakClass.Inserted,
      position: 8,
    });
  });

  it('inserted: a row with a made-up hash between two linked events', () => {
    const records = chain(20);
    records.splice(7, 0, {
      ...records[7]!,
      eventId: '22222222-2222-7222-8222-222222222222',
      hash: 'f'.repeat(64),
    });
    expect(verify(renumber(records)).break).toMatchObject({
      class: ChainBreakClass.Inserted,
      position: 8,
    });
  });

  it('reordered: two events swapped', () => {
    const records = chain(20);
    [records[13], records[14]] = [records[14]!, records[13]!];
    expect(verify(renumber(records)).break).toMatchObject({
      class: ChainBreakClass.Reordered,
      position: 14,
    });
  });

  it('inserted: a position that appears twice', () => {
    const records = chain(10);
    records.splice(5, 0, records[4]!);
    expect(verify(records).break).toMatchObject({ class: ChainBreakClass.Inserted, position: 5 });
  });

  it('reports an authorised redaction, not a break, when the position is listed', () => {
    const records = chain(10);
    records[3] = { ...records[3]!, dataJson: '{"redacted":true}' };
    const result = verify(records, 7, new Set([4]));
    expect(result.break).toBeNull();
    expect(result.summary.redacted).toEqual([4]);
  });

  it('classifies a break found in the last record of a page using the next page', () => {
    const records = chain(30);
    [records[6], records[7]] = [records[7]!, records[6]!];
    expect(verify(renumber(records), 7).break).toMatchObject({
      class: ChainBreakClass.Reordered,
      position: 7,
    });
  });

  it('starts a segment from a stored hash and a position other than 1', () => {
    const records = chain(30);
    const v = new ChainVerifier({ prevHash: records[9]!.hash, firstPosition: 11 });
    v.push(records.slice(10));
    expect(v.finish().break).toBeNull();
  });
});

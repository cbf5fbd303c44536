-- sscontrol event store, schema version 1.
-- `${schema}` is replaced by the quoted schema name (EVENT_STORE_POSTGRES_SCHEMA) when applied by
-- `sscontrol migrate`, which records each file's SHA-256 in ${schema}.schema_migrations.

CREATE TABLE ${schema}.store_meta (
  key text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO ${schema}.store_meta (key, value)
VALUES ('store_id', gen_random_uuid()::text), ('created_at', now()::text);

-- The global log. `position` is gapless and assigned under the lock on ${schema}.head, so commit
-- order equals position order: a reader at any snapshot sees a prefix of the log and a subscriber
-- following positions never skips an event committed late.
CREATE TABLE ${schema}.events (
  position bigint PRIMARY KEY,
  stream_id text COLLATE "C" NOT NULL,
  revision bigint NOT NULL,
  event_id uuid NOT NULL,
  type text COLLATE "C" NOT NULL,
  schema_version integer NOT NULL,
  recorded_at bigint NOT NULL,            -- Unix milliseconds, exactly as hashed; never decreases
  metadata text NOT NULL,                 -- canonical JSON, exactly as hashed
  data text NOT NULL,                     -- canonical JSON
  data_digest char(64) NOT NULL,          -- SHA-256 of data
  prev_hash char(64) NOT NULL,
  hash char(64) NOT NULL,
  CONSTRAINT events_stream_revision UNIQUE (stream_id, revision),
  CONSTRAINT events_event_id UNIQUE (event_id)
);
-- No index on type: it would cost every append ~10% and filtered reads page through windows of
-- positions anyway; responders' queries are served by read models (projections).
CREATE INDEX events_recorded_at ON ${schema}.events USING brin (recorded_at);

-- One row: the last position, its hash and time. Appends lock it, which serialises the chain.
CREATE TABLE ${schema}.head (
  id smallint PRIMARY KEY CHECK (id = 1),
  position bigint NOT NULL,
  hash char(64) NOT NULL,
  recorded_at bigint NOT NULL
);
INSERT INTO ${schema}.head (id, position, hash, recorded_at)
SELECT 1, 0, encode(sha256(convert_to('sscontrol-event-chain/v1' || E'\n' || value, 'UTF8')), 'hex'), 0
FROM ${schema}.store_meta WHERE key = 'store_id';

CREATE TABLE ${schema}.subscriptions (
  name text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Appends a batch of requests (group commit) in the caller's transaction. The hash chain is
-- computed here, under the lock on ${schema}.head, exactly as libs/event-store/src/chain.ts does
-- (a test keeps the two equal), so the lock is held for one statement and the commit only.
-- Requests are given column-wise: request i appends p_counts[i] events to p_streams[i], expecting
-- p_expected[i] (-1 any, -2 no stream, -3 stream exists, >= 0 that revision); the events of all
-- requests follow each other in p_ids, p_types, ... Text columns arrive as one string joined by
-- U+001E (record separator), which none of them can contain (stream ids and types refuse control
-- characters, canonical JSON escapes them, ids and digests are hex): splitting one string is
-- much cheaper, on both sides, than quoting and parsing a text[] literal of JSON documents. Returns 3 numbers per request: first position,
-- first revision, last revision; or -1, NULL, current revision (-1: no stream) when the
-- expectation failed. Returns NULL, recording nothing, when an event id is already recorded: the
-- caller then commits the requests one by one to tell a retried append from a duplicate.
-- The common batch (one event per request, each to another stream) takes a shorter path.
CREATE FUNCTION ${schema}.append_batch(
  j_streams text, p_expected bigint[], p_counts integer[],
  j_ids text, j_types text, p_versions integer[], j_meta text, j_data text, j_digests text
) RETURNS bigint[]
LANGUAGE plpgsql AS $fn$
DECLARE
  p_streams text[] := string_to_array(j_streams, E'\x1e');
  p_ids uuid[] := string_to_array(j_ids, E'\x1e')::uuid[];
  p_types text[] := string_to_array(j_types, E'\x1e');
  p_meta text[] := string_to_array(j_meta, E'\x1e');
  p_data text[] := string_to_array(j_data, E'\x1e');
  p_digests text[] := string_to_array(j_digests, E'\x1e');
  v_head ${schema}.head%ROWTYPE;
  v_pos bigint;
  v_prev text;
  v_now bigint;
  v_nreq integer;
  v_n integer;
  v_cur bigint[];
  v_out bigint[];
  v_ok boolean[];
  a_pos bigint[];
  a_stream text[];
  a_rev bigint[];
  a_prev text[];
  a_hash text[];
  v_req integer;
  v_k integer := 0;
  v_j integer;
  v_rev bigint;
  v_c bigint;
  v_e bigint;
  v_stream text;
  v_hash text;
  v_simple boolean;
BEGIN
  v_nreq := cardinality(p_streams);
  v_n := cardinality(p_ids);
  SELECT * INTO v_head FROM ${schema}.head WHERE id = 1 FOR UPDATE;
  v_pos := v_head.position;
  v_prev := v_head.hash;
  v_now := greatest(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint, v_head.recorded_at);
  -- Current revision of each request's stream, in one statement.
  SELECT array_agg(coalesce(m.rev, -1) ORDER BY r.ord) INTO v_cur
  FROM unnest(p_streams) WITH ORDINALITY AS r(s, ord)
  LEFT JOIN LATERAL (SELECT max(e.revision) AS rev FROM ${schema}.events e WHERE e.stream_id = r.s) m ON true;
  v_out := array_fill(NULL::bigint, ARRAY[v_nreq * 3]);
  -- Common case: one event per request, each to a different stream.
  v_simple := v_n = v_nreq AND (SELECT count(DISTINCT s) FROM unnest(p_streams) s) = v_nreq;
  IF v_simple THEN
    v_ok := array_fill(true, ARRAY[v_n]);
    a_pos := array_fill(NULL::bigint, ARRAY[v_n]);
    a_prev := array_fill(NULL::text, ARRAY[v_n]);
    a_hash := array_fill(NULL::text, ARRAY[v_n]);
    a_stream := p_streams;
    FOR v_j IN 1 .. v_n LOOP
      v_c := v_cur[v_j];
      v_e := p_expected[v_j];
      IF (v_e = -2 AND v_c >= 0) OR (v_e = -3 AND v_c < 0) OR (v_e >= 0 AND v_c <> v_e) THEN
        v_ok[v_j] := false;
        v_out[v_j * 3 - 2] := -1;
        v_out[v_j * 3] := v_c;
        CONTINUE;
      END IF;
      v_pos := v_pos + 1;
      v_hash := encode(sha256(convert_to(
        v_prev || E'\n' || p_streams[v_j] || E'\n' || (v_c + 1) || E'\n' || p_ids[v_j] || E'\n' || p_types[v_j]
        || E'\n' || p_versions[v_j] || E'\n' || v_now || E'\n' || p_meta[v_j] || E'\n' || p_digests[v_j],
        'UTF8')), 'hex');
      a_pos[v_j] := v_pos;
      a_prev[v_j] := v_prev;
      a_hash[v_j] := v_hash;
      v_out[v_j * 3 - 2] := v_pos;
      v_out[v_j * 3 - 1] := v_c + 1;
      v_out[v_j * 3] := v_c + 1;
      v_prev := v_hash;
    END LOOP;
    a_rev := (SELECT array_agg(c + 1 ORDER BY o) FROM unnest(v_cur) WITH ORDINALITY AS x(c, o));
  ELSE
    v_ok := array_fill(true, ARRAY[v_n]);
    a_pos := array_fill(NULL::bigint, ARRAY[v_n]);
    a_stream := array_fill(NULL::text, ARRAY[v_n]);
    a_rev := array_fill(NULL::bigint, ARRAY[v_n]);
    a_prev := array_fill(NULL::text, ARRAY[v_n]);
    a_hash := array_fill(NULL::text, ARRAY[v_n]);
    FOR v_req IN 1 .. v_nreq LOOP
      v_stream := p_streams[v_req];
      -- An earlier request of this batch may have appended to the same stream.
      v_c := v_cur[v_req];
      FOR v_j IN 1 .. v_req - 1 LOOP
        IF p_streams[v_j] = v_stream AND v_out[v_j * 3 - 2] >= 0 THEN v_c := v_out[v_j * 3]; END IF;
      END LOOP;
      v_e := p_expected[v_req];
      IF (v_e = -2 AND v_c >= 0) OR (v_e = -3 AND v_c < 0) OR (v_e >= 0 AND v_c <> v_e) THEN
        v_out[v_req * 3 - 2] := -1;
        v_out[v_req * 3] := v_c;
        FOR v_j IN v_k + 1 .. v_k + p_counts[v_req] LOOP v_ok[v_j] := false; END LOOP;
        v_k := v_k + p_counts[v_req];
        CONTINUE;
      END IF;
      v_out[v_req * 3 - 2] := v_pos + 1;
      v_out[v_req * 3 - 1] := v_c + 1;
      v_rev := v_c;
      FOR v_j IN v_k + 1 .. v_k + p_counts[v_req] LOOP
        v_pos := v_pos + 1;
        v_rev := v_rev + 1;
        v_hash := encode(sha256(convert_to(
          v_prev || E'\n' || v_stream || E'\n' || v_rev || E'\n' || p_ids[v_j] || E'\n' || p_types[v_j]
          || E'\n' || p_versions[v_j] || E'\n' || v_now || E'\n' || p_meta[v_j] || E'\n' || p_digests[v_j],
          'UTF8')), 'hex');
        a_pos[v_j] := v_pos;
        a_stream[v_j] := v_stream;
        a_rev[v_j] := v_rev;
        a_prev[v_j] := v_prev;
        a_hash[v_j] := v_hash;
        v_prev := v_hash;
      END LOOP;
      v_k := v_k + p_counts[v_req];
      v_out[v_req * 3] := v_rev;
    END LOOP;
  END IF;
  IF v_pos > v_head.position THEN
    BEGIN
      INSERT INTO ${schema}.events (position, stream_id, revision, event_id, type, schema_version,
        recorded_at, metadata, data, data_digest, prev_hash, hash)
      SELECT u.pos, u.stream, u.rev, u.id, u.type, u.ver, v_now, u.meta, u.data, u.digest, u.prev, u.hash
      FROM unnest(a_pos, a_stream, a_rev, p_ids, p_types, p_versions, p_meta, p_data, p_digests, a_prev, a_hash, v_ok)
        AS u(pos, stream, rev, id, type, ver, meta, data, digest, prev, hash, ok)
      WHERE u.ok;
    EXCEPTION WHEN unique_violation THEN
      RETURN NULL;
    END;
    UPDATE ${schema}.head SET position = v_pos, hash = v_prev, recorded_at = v_now WHERE id = 1;
    PERFORM pg_notify(${schema_literal} || '.events', v_pos::text);
  END IF;
  RETURN v_out;
END
$fn$;

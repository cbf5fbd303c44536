-- sscontrol key ring, schema version 2.
-- `${schema}` is replaced by the quoted schema name (EVENT_STORE_POSTGRES_SCHEMA) when applied by
-- `sscontrol migrate`, which records each file's SHA-256 in ${schema}.schema_migrations.

-- The key ring of KEY_STORE=postgres (libs/keys PostgresKeyStore): one row holding the whole ring
-- as one document whose secrets are sealed under the master key. `version` repeats the document's
-- version so that watchers poll it without fetching the document. Writers serialise on a
-- transaction-level advisory lock and notify `<schema>.keyring` with the new version.
CREATE TABLE ${schema}.keyring (
  id smallint PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL,
  document jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

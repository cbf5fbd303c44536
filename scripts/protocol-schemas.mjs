#!/usr/bin/env node
// Writes docs/protocol/schemas/*.json, one JSON Schema per protocol v1 message, from the zod
// schemas of libs/protocol (protocolSchemaFiles()). libs/protocol/src/messages.spec.ts fails when
// the files are out of step. Compiles only libs/protocol (SWC) into node_modules/.cache, so it
// neither needs nor disturbs dist/.
//   node scripts/protocol-schemas.mjs
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformFile } from '@swc/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'libs/protocol/src');
const out = path.join(root, 'node_modules/.cache/sscontrol-protocol-schemas');
const target = path.join(root, 'docs/protocol/schemas');

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
for (const file of await readdir(src)) {
  if (!file.endsWith('.ts') || file.endsWith('.spec.ts')) continue;
  const { code } = await transformFile(path.join(src, file), {
    swcrc: false,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
  });
  await writeFile(path.join(out, file.replace(/\.ts$/, '.js')), code);
}
await writeFile(path.join(out, 'package.json'), '{"type":"module"}\n');
const { protocolSchemaFiles } = await import(pathToFileURL(path.join(out, 'index.js')).href);

const files = protocolSchemaFiles();
await mkdir(target, { recursive: true });
for (const stale of await readdir(target)) {
  if (stale.endsWith('.json') && !(stale in files)) await rm(path.join(target, stale));
}
let written = 0;
for (const [file, text] of Object.entries(files)) {
  const dest = path.join(target, file);
  const current = await readFile(dest, 'utf8').catch(() => null);
  if (current !== null && JSON.stringify(JSON.parse(current)) === JSON.stringify(JSON.parse(text)))
    continue;
  await writeFile(dest, text);
  written++;
}
await rm(out, { recursive: true, force: true });
console.log(`${Object.keys(files).length} schemas in docs/protocol/schemas (${written} written)`);

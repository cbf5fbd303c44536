#!/usr/bin/env node
// Compiles apps/ and libs/ to dist/ with SWC (decorator metadata, path aliases rewritten to relative
// ESM specifiers by .swcrc). Type checking is a separate step (`npm run typecheck`) so that
// start-up and `npm install` stay fast.
//   node scripts/build.mjs             build everything
//   node scripts/build.mjs --if-needed build only when a source is newer than the last build
import { readdir, readFile, mkdir, writeFile, stat, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformFile } from '@swc/core';
import { buildDemo, demoNewestMtime } from './build-demo.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist');
const stamp = path.join(outDir, '.build-stamp');
const roots = ['apps', 'libs', 'bench'];
const isTest = (f) =>
  /\.(spec|int-spec|e2e-spec)\.ts$/.test(f) || f.includes(`${path.sep}test${path.sep}`);

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(p);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !isTest(p)) yield p;
  }
}

async function sources() {
  const files = [];
  for (const r of roots) for await (const f of walk(path.join(root, r))) files.push(f);
  return files;
}

async function newestMtime(files) {
  let newest = await demoNewestMtime(root);
  for (const f of [...files, path.join(root, '.swcrc'), path.join(root, 'package.json')]) {
    newest = Math.max(newest, (await stat(f)).mtimeMs);
  }
  return newest;
}

const files = await sources();
if (process.argv.includes('--if-needed')) {
  const built = await stat(stamp).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built >= (await newestMtime(files))) process.exit(0);
}
await rm(outDir, { recursive: true, force: true });
const swcrc = JSON.parse(await readFile(path.join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;
swcrc.jsc.baseUrl = root;
const started = performance.now();
await Promise.all(
  files.map(async (file) => {
    const rel = path.relative(root, file);
    const out = path.join(outDir, rel.replace(/\.ts$/, '.js'));
    const { code, map } = await transformFile(file, {
      ...swcrc,
      swcrc: false,
      filename: file,
      sourceFileName: path.relative(path.dirname(out), file),
    });
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, `${code}\n//# sourceMappingURL=${path.basename(out)}.map\n`);
    if (map) await writeFile(`${out}.map`, map);
  }),
);
await buildDemo(root, outDir);
await writeFile(stamp, new Date().toISOString());
console.error(`built ${files.length} files in ${Math.round(performance.now() - started)} ms`);

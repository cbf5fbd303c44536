// The demo page of the signaling gateway (SIGNALING_DEMO): copies its static files to dist/ and
// bundles libs/client for browsers with esbuild (ESM, minified, zod included), so that the built
// gateway serves /demo/ without network access or a bundler at run time.
import { cp, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

const STATIC = 'apps/signaling/src/demo/static';

/** The demo's source files (static files and the client library), for --if-needed. */
export async function demoSources(root) {
  const files = [];
  for (const dir of [STATIC]) {
    for (const entry of await readdir(path.join(root, dir)))
      files.push(path.join(root, dir, entry));
  }
  return files;
}

/** Newest modification time among the demo's static files. */
export async function demoNewestMtime(root) {
  let newest = 0;
  for (const f of await demoSources(root)) newest = Math.max(newest, (await stat(f)).mtimeMs);
  return newest;
}

/** Writes dist/apps/signaling/src/demo/static/ (the page, and sscontrol-client.js). */
export async function buildDemo(root, outDir) {
  const out = path.join(outDir, STATIC);
  await cp(path.join(root, STATIC), out, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: ['libs/client/src/index.ts'],
    outfile: path.join(out, 'sscontrol-client.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
    minify: true,
    sourcemap: 'linked',
    tsconfig: path.join(root, 'tsconfig.json'),
    legalComments: 'eof',
    logLevel: 'warning',
  });
}

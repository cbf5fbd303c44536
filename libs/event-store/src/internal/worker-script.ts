import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * URL of a worker-thread entry point next to the calling module. Worker threads run compiled
 * JavaScript: when the caller is a TypeScript source (under Jest), the compiled file of the same
 * name under `dist/` is used, which `npm test` builds first.
 */
export function workerScript(callerUrl: string, relative: string): URL {
  const callerPath = fileURLToPath(callerUrl);
  const sibling = path.resolve(path.dirname(callerPath), `${relative}.js`);
  if (callerPath.endsWith('.js')) return pathToFileURL(sibling);
  let dir = path.dirname(callerPath);
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package root above ${callerPath}`);
    dir = parent;
  }
  const compiled = path.join(dir, 'dist', path.relative(dir, sibling));
  if (!existsSync(compiled)) {
    throw new Error(`${compiled} is missing: run \`npm run build\` first`);
  }
  return pathToFileURL(compiled);
}

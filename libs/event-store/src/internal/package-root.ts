import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (package) root above a module: where `migrations/` and `dist/` live. */
export function packageRoot(moduleUrl: string): string {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  while (!existsSync(path.join(dir, 'package.json')) || !existsSync(path.join(dir, 'migrations'))) {
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(`no sscontrol package root above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
  return dir;
}

#!/usr/bin/env node
// `sscontrol` operator CLI (package.json "bin"). Runs the compiled CLI; `npm install` builds it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/apps/cli/src/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(
    'sscontrol: not built yet; run `npm run build` in the sscontrol directory\n',
  );
  process.exit(70);
}
await import(entry.href);

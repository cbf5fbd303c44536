#!/usr/bin/env node
// `npm start`: builds if needed, then runs the signaling gateway and the control process side by
// side on the embedded defaults (or whatever the environment configures), as the production
// units do. SIGINT/SIGTERM stop both gracefully; if one exits, the other is stopped too and
// the exit status is the first failure's.
import { spawn, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--if-needed'], {
  stdio: 'inherit',
});

const services =
  process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['signaling', 'control'];
const children = new Map();
let stopping = false;
let status = 0;

function stopAll(signal) {
  stopping = true;
  for (const child of children.values()) if (child.exitCode === null) child.kill(signal);
}

for (const service of services) {
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', path.join(root, `dist/apps/${service}/src/main.js`)],
    {
      stdio: 'inherit',
      env: process.env,
    },
  );
  children.set(service, child);
  child.on('exit', (code, signal) => {
    children.delete(service);
    if (!stopping) {
      process.stderr.write(
        `sscontrol: ${service} exited (${signal ?? code}); stopping the others\n`,
      );
      status = code || 1;
      stopAll('SIGTERM');
    }
    if (children.size === 0) process.exit(status);
  });
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stopAll(signal));

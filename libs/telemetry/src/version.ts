import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The release version, from the package manifest. */
export function sscontrolVersion(): string {
  if (cached) return cached;
  for (const rel of ['../../../package.json', '../../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'sscontrol' && pkg.version) return (cached = pkg.version);
    } catch {
      // try the next candidate: sources and dist/ sit at different depths
    }
  }
  return (cached = '0.0.0');
}

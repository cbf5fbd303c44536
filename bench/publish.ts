import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';

/** Formats Markdown as the repository's Prettier configuration does for `file`. */
export async function formatMarkdown(markdown: string, file: string): Promise<string> {
  const config = (await resolveConfig(file)) ?? {};
  return format(markdown, { ...config, parser: 'markdown' });
}

/** Replaces the text between `begin` and `end` in `file` (appending both when missing); nothing else. */
export function replaceDocSection(
  file: string,
  markdown: string,
  markers: { readonly begin: string; readonly end: string },
): void {
  const section = `${markers.begin}\n\n${markdown.trim()}\n\n${markers.end}`;
  mkdirSync(path.dirname(file), { recursive: true });
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const begin = current.indexOf(markers.begin);
  const end = current.indexOf(markers.end);
  const next =
    begin >= 0 && end > begin
      ? `${current.slice(0, begin)}${section}${current.slice(end + markers.end.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}

/**
 * The end of a benchmark run: the report (formatted) on stdout, every result in
 * `bench/results/<name>-<start>.json`, and — when asked — the report in its section of
 * docs/benchmarks.md.
 */
export async function publishBenchResults(options: {
  readonly root: string;
  readonly name: string;
  readonly startedAt: string;
  readonly results: unknown;
  readonly markdown: string;
  readonly writeDocs: boolean;
  readonly markers: { readonly begin: string; readonly end: string };
  readonly log: (line: string) => void;
}): Promise<void> {
  const docs = path.join(options.root, 'docs', 'benchmarks.md');
  const markdown = await formatMarkdown(options.markdown, docs);
  process.stdout.write(`${markdown}\n`);
  const resultsDir = path.join(options.root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const jsonFile = path.join(
    resultsDir,
    `${options.name}-${options.startedAt.replace(/[:.]/g, '-')}.json`,
  );
  writeFileSync(jsonFile, `${JSON.stringify(options.results, null, 2)}\n`);
  options.log(`raw results: ${path.relative(options.root, jsonFile)}`);
  if (options.writeDocs) {
    replaceDocSection(docs, markdown, options.markers);
    options.log('updated docs/benchmarks.md');
  }
}

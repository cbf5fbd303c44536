#!/usr/bin/env node
// Finds circular imports between the project's TypeScript modules (type-only imports excluded,
// since they vanish at runtime). Exits 1 and prints each cycle when there is one.
// (madge --circular, named by the house style, declares a TypeScript 5 peer; this does the same
// job with the compiler the project already uses.)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const configPath = path.join(root, 'tsconfig.json');
const parsed = ts.parseJsonConfigFileContent(
  ts.readConfigFile(configPath, ts.sys.readFile).config,
  ts.sys,
  root,
);
const files = parsed.fileNames.filter(
  (f) => !/\.(spec|int-spec|e2e-spec)\.ts$/.test(f) && !f.startsWith(path.join(root, 'bench')),
);
const host = ts.createCompilerHost(parsed.options);
const graph = new Map();

for (const file of files) {
  const source = ts.createSourceFile(
    file,
    ts.sys.readFile(file) ?? '',
    ts.ScriptTarget.Latest,
    true,
  );
  const deps = [];
  for (const stmt of source.statements) {
    const isImport = ts.isImportDeclaration(stmt) && !stmt.importClause?.isTypeOnly;
    const isExport = ts.isExportDeclaration(stmt) && !stmt.isTypeOnly && stmt.moduleSpecifier;
    if (!isImport && !isExport) continue;
    if (isImport) {
      const named = stmt.importClause?.namedBindings;
      const onlyTypes =
        named &&
        ts.isNamedImports(named) &&
        !stmt.importClause.name &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      if (onlyTypes) continue;
    }
    const spec = stmt.moduleSpecifier.text;
    const resolved = ts.resolveModuleName(spec, file, parsed.options, host).resolvedModule;
    if (resolved && !resolved.isExternalLibraryImport && resolved.resolvedFileName.startsWith(root))
      deps.push(resolved.resolvedFileName);
  }
  graph.set(file, deps);
}

const cycles = [];
const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, 'open');
  stack.push(file);
  for (const dep of graph.get(file) ?? []) {
    if (state.get(dep) === 'open') cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
    else if (!state.has(dep)) visit(dep);
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

if (cycles.length > 0) {
  for (const c of cycles)
    console.error(`circular import: ${c.map((f) => path.relative(root, f)).join(' -> ')}`);
  process.exit(1);
}
console.log(`no circular imports among ${graph.size} modules`);

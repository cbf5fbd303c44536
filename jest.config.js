// Jest 30, ESM (NestJS 12 is ESM-only; run with --experimental-vm-modules, see package.json).
// One project per test tier, selected by file name (see ../shared/STYLE.md):
//   unit         *.spec.ts       pure logic, no I/O, next to the code
//   integration  *.int-spec.ts   real SQLite/PostgreSQL/Redis/coturn/nginx
//   e2e          test/*.e2e-spec.ts  booted processes over real sockets
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2023',
      keepClassNames: true,
      baseUrl: import.meta.dirname,
      paths: { '@sscontrol/*': ['libs/*/src/index.ts'] },
    },
    module: { type: 'es6', resolveFully: true },
    sourceMaps: 'inline',
  },
];

const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};

export default {
  globalSetup: '<rootDir>/libs/testing/src/global-setup.js',
  // Applies to every project (Jest ignores testTimeout inside a project entry).
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/libs/testing/src/summary-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,bench}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts', '<rootDir>/test/**/*.int-spec.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/{apps,libs}/**/test/*.e2e-spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
    },
  ],
};

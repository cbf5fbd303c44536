import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRootDir } from '@sscontrol/testing';

const run = promisify(execFile);
const root = packageRootDir();
const bin = (name: string) => path.join(root, 'node_modules/.bin', name);

/** The house style's static gates, run with the tests so that CI holds them too. */
describe('static checks', () => {
  it('type-checks (TypeScript strict, noUncheckedIndexedAccess)', async () => {
    await expect(
      run(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: root, maxBuffer: 16 << 20 }),
    ).resolves.toBeDefined();
  }, 180_000);

  it('lints clean (typescript-eslint, type-checked rules)', async () => {
    await expect(
      run(bin('eslint'), ['.', '--max-warnings', '0'], { cwd: root, maxBuffer: 16 << 20 }),
    ).resolves.toBeDefined();
  }, 300_000);

  it('is formatted (Prettier)', async () => {
    await expect(
      run(bin('prettier'), ['--check', '.'], { cwd: root, maxBuffer: 16 << 20 }),
    ).resolves.toBeDefined();
  }, 120_000);

  it('has no circular imports', async () => {
    const { stdout } = await run(process.execPath, ['scripts/check-cycles.mjs'], { cwd: root });
    expect(stdout).toMatch(/^no circular imports among \d+ modules/);
  });
});

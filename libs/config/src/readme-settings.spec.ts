import { readFileSync } from 'node:fs';
import { envExample, settingsTable } from './config.js';

const normalise = (text: string) =>
  text
    .split('\n')
    .map((line) =>
      line
        .replace(/\s*\|\s*/g, '|')
        .replace(/-{3,}/g, '---')
        .trim(),
    )
    .filter(Boolean);

describe('README settings table', () => {
  it('lists exactly the settings the code reads (regenerate with `npx sscontrol config doc`)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const between = /<!-- settings:begin -->\n([\s\S]*?)\n<!-- settings:end -->/.exec(readme);
    expect(between).not.toBeNull();
    expect(normalise(between![1]!)).toEqual(normalise(settingsTable()));
  });
});

describe('.env.example', () => {
  it('lists every setting (regenerate with `npx sscontrol config example > .env.example`)', () => {
    const file = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    expect(file).toBe(envExample());
  });
});

/**
 * Pins the public surface: adding or removing an export must be deliberate
 * (update test/unit/public-exports.json, which the packaging smoke test also
 * checks against the built tarball).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as root from '../../src/index.js';
import * as testing from '../../src/testing/index.js';

const pinned = JSON.parse(readFileSync(new URL('./public-exports.json', import.meta.url), 'utf8')) as {
  root: string[];
  testing: string[];
};

describe('public exports', () => {
  it('etl-stream exports exactly the pinned names', () => {
    expect(Object.keys(root).sort()).toEqual([...pinned.root].sort());
  });
  it('etl-stream/testing exports exactly the pinned names', () => {
    expect(Object.keys(testing).sort()).toEqual([...pinned.testing].sort());
  });
});

/**
 * Runs a TypeScript test script in a child process. Tests that restart a
 * child many times (SIGKILL rounds) bundle it once with esbuild, which tsx
 * and vite already bring: a bundle starts in a fraction of the time tsx
 * needs to load and transform every module on each start. Packages stay
 * external and resolve from the repository's node_modules, where the bundle
 * is written. Without esbuild, the script runs through tsx.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const CACHE = fileURLToPath(new URL('../../../../node_modules/.cache/etl-stream-tests/', import.meta.url));

/** How to start a script: the arguments for `node`, and a cleanup for the bundle. */
export interface ChildScript {
  readonly nodeArgs: readonly string[];
  dispose(): Promise<void>;
}

/** Prepares `entry` (a .ts file) to be started with `spawn(process.execPath, script.nodeArgs)`. */
export async function childScript(entry: string): Promise<ChildScript> {
  let build: ((options: Record<string, unknown>) => Promise<unknown>) | undefined;
  try {
    ({ build } = (await import('esbuild')) as unknown as { build: typeof build });
  } catch {
    build = undefined;
  }
  if (!build) return { nodeArgs: ['--import', 'tsx', entry], dispose: async () => {} };
  await mkdir(CACHE, { recursive: true });
  const outfile = `${CACHE}${basename(entry, '.ts')}-${process.pid}-${randomBytes(3).toString('hex')}.mjs`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return { nodeArgs: [outfile], dispose: () => rm(outfile, { force: true }) };
}

/**
 * How the run's Node children start (a contender process per contender and
 * workload, the decode replay). Through tsx every child transpiles the
 * source tree again, about 1.5 s before it does anything; a quick run starts
 * some twenty of them. {@link buildChildren} bundles their entry points once
 * per run with esbuild (packages stay external, resolved from the repo's
 * node_modules) into `.etl-stream/bench-build/`, git-ignored; a child then
 * starts in a few hundred ms. When esbuild cannot be loaded or fails,
 * children run through tsx as before: slower to start, measured the same.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('../.etl-stream/bench-build/', import.meta.url));
const ENTRIES = ['contender-process', 'decode-replay'] as const;
export type ChildName = (typeof ENTRIES)[number];

/** The bundles built by {@link buildChildren}, once it succeeded. */
const built = new Map<ChildName, string>();

/** The minimal part of esbuild's API used here. */
interface Esbuild {
  build(options: Record<string, unknown>): Promise<unknown>;
}

/** Bundles the children's entry points; returns why not when it could not (children then use tsx). */
export async function buildChildren(): Promise<string | undefined> {
  let esbuild: Esbuild;
  try {
    esbuild = (await import('esbuild')) as Esbuild;
  } catch (err) {
    return `esbuild not available (${(err as Error).message})`;
  }
  mkdirSync(BUILD_DIR, { recursive: true });
  try {
    for (const name of ENTRIES) {
      const outfile = join(BUILD_DIR, `${name}.mjs`);
      await esbuild.build({
        entryPoints: [join(BENCH_DIR, `${name}.ts`)],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: `node${process.versions.node.split('.')[0]}`,
        packages: 'external',
        // Function names stay readable in --cpu-prof profiles.
        keepNames: true,
        logLevel: 'silent',
      });
      built.set(name, outfile);
    }
    return undefined;
  } catch (err) {
    built.clear();
    return `esbuild failed (${(err as Error).message})`;
  }
}

/** Node arguments and script that start child `name`: its bundle when built, else its source through tsx. */
export function childCommand(name: ChildName): { execArgv: string[]; script: string } {
  const bundle = built.get(name);
  if (bundle) return { execArgv: [], script: bundle };
  return { execArgv: ['--import', 'tsx'], script: join(BENCH_DIR, `${name}.ts`) };
}

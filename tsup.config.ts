import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  // import.meta.url in the CommonJS build (resolving optional modules next to the package).
  shims: true,
  // Heavy SDKs stay external and are loaded lazily by the parts that use them.
  external: ['snowflake-sdk', 'ioredis', '@duckdb/node-api', 'parquet-wasm', 'prom-client'],
});

/**
 * PUT, LIST and REMOVE. PUT never moves data through the emulator: it
 * answers with a `LOCAL_FS` location (the stage directory, with any sub-path)
 * and the driver copies the files there, compressing them unless
 * `AUTO_COMPRESS = FALSE` (snowflake-sdk gzips `.parquet` by default).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tableExists } from './ddl.js';
import { unsupported } from './errors.js';
import { fixedColumn, textColumn } from './result-encoding.js';
import { parseStageRef, type Scanner } from './sql/scanner.js';
import { type ResolvedStage, StageStore } from './stages.js';
import { STATEMENT_TYPE, type StatementContext, type StatementResult } from './statement-context.js';

async function resolve(ctx: StatementContext, ref: ReturnType<typeof parseStageRef>): Promise<ResolvedStage> {
  const s = ctx.session;
  return ctx.engine.stages.resolve(
    ref,
    { database: s.database, schema: s.schema, user: s.user },
    (db, schema, table) => tableExists(ctx, { db, schema, name: table }),
  );
}

/** Resolves a stage reference at the scanner. */
export async function stageAt(ctx: StatementContext, sc: Scanner): Promise<ResolvedStage> {
  return resolve(ctx, sc.stage());
}

/** PUT file://<path> @stage[/path] [AUTO_COMPRESS = …] [SOURCE_COMPRESSION = …] [PARALLEL = n] [OVERWRITE = …]. */
export async function put(ctx: StatementContext): Promise<StatementResult> {
  const m = /^\s*PUT\s+('(?:[^']|'')*'|\S+)\s+('(?:[^']|'')*'|@\S+)(.*)$/is.exec(ctx.sql);
  if (!m) throw unsupported('This form of PUT');
  const unquote = (s: string) => (s.startsWith("'") ? s.slice(1, -1).replace(/''/g, "'") : s);
  const uri = unquote(m[1]!);
  if (!/^file:\/\//i.test(uri)) throw unsupported(`PUT from ${uri}`);
  const local = decodeURIComponent(uri.replace(/^file:\/\//i, ''));
  const stage = await resolve(ctx, parseStageRef(unquote(m[2]!)));
  const opts = Object.fromEntries(
    [...(m[3] ?? '').matchAll(/(\w+)\s*=\s*('?)([^\s']*)\2/g)].map((o) => [
      o[1]!.toUpperCase(),
      o[3]!.toUpperCase(),
    ]),
  );
  const location = join(stage.dir, stage.path);
  // Created here (private) so the driver does not create it world-writable.
  await mkdir(location, { recursive: true, mode: 0o700 });
  const source = (opts.SOURCE_COMPRESSION ?? 'AUTO_DETECT').toLowerCase();
  return {
    rowtype: [],
    rowset: [],
    statementTypeId: STATEMENT_TYPE.dml,
    upload: {
      command: 'UPLOAD',
      src_locations: [local],
      autoCompress: (opts.AUTO_COMPRESS ?? 'TRUE') !== 'FALSE',
      sourceCompression: source === 'none' ? 'auto_detect' : source,
      parallel: Number(opts.PARALLEL ?? 4),
      overwrite: (opts.OVERWRITE ?? 'FALSE') === 'TRUE',
      stageInfo: {
        locationType: 'LOCAL_FS',
        location: location.endsWith('/') ? location : `${location}/`,
        path: '',
        region: null,
        creds: {},
        isClientSideEncrypted: false,
      },
      encryptionMaterial: null,
    },
  };
}

function patternOf(sc: Scanner): string | undefined {
  const o = sc.options();
  const p = o.PATTERN;
  return typeof p === 'string' ? p : undefined;
}

/** LIST @stage[/path] [PATTERN = '…']. */
export async function list(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  const stage = await stageAt(ctx, sc);
  const files = await ctx.engine.stages.files(stage, patternOf(sc));
  const rows: (string | null)[][] = [];
  for (const f of files)
    rows.push([
      `${stage.listPrefix}${f.rel}`,
      String(f.size),
      await StageStore.md5(f),
      f.modified.toUTCString(),
    ]);
  return {
    rowtype: [textColumn('name'), fixedColumn('size'), textColumn('md5'), textColumn('last_modified')],
    rowset: rows,
    statementTypeId: STATEMENT_TYPE.select,
  };
}

/** REMOVE @stage[/path] [PATTERN = '…']. */
export async function remove(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  const stage = await stageAt(ctx, sc);
  const files = await ctx.engine.stages.files(stage, patternOf(sc));
  for (const f of files) await rm(f.abs, { force: true });
  return {
    rowtype: [textColumn('name'), textColumn('result')],
    rowset: files.map((f) => [`${stage.listPrefix}${f.rel}`, 'removed']),
    statementTypeId: STATEMENT_TYPE.select,
  };
}

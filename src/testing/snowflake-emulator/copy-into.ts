/**
 * COPY INTO <table> FROM @stage: loads staged Parquet files, matching columns
 * by name (MATCH_BY_COLUMN_NAME = CASE_SENSITIVE | CASE_INSENSITIVE) or, with
 * no match option, into a table's single VARIANT column. Files already loaded
 * into the table (same path and content) are skipped unless FORCE = TRUE, as
 * Snowflake's load metadata does. Gzipped files (the driver's default PUT
 * compression) are decompressed first.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { engineRef, objectName } from './ddl.js';
import { doesNotExist, SnowflakeSqlError, syntaxError, unsupported } from './errors.js';
import { engineIdent, literal } from './names.js';
import { fixedColumn, textColumn } from './result-encoding.js';
import type { OptionValue, Scanner } from './sql/scanner.js';
import { stageAt } from './stage-commands.js';
import { type StagedFile, StageStore } from './stages.js';
import {
  STATEMENT_TYPE,
  type StatementContext,
  type StatementResult,
  statusResult,
} from './statement-context.js';
import { engineType, type SfType } from './types.js';

const KNOWN = new Set([
  'FILES',
  'PATTERN',
  'FILE_FORMAT',
  'MATCH_BY_COLUMN_NAME',
  'FORCE',
  'PURGE',
  'ON_ERROR',
  'LOAD_UNCERTAIN_FILES',
  'RETURN_FAILED_ONLY',
  'TRUNCATECOLUMNS',
  'ENFORCE_LENGTH',
]);

function str(v: OptionValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export async function copyInto(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  sc.expect('COPY', 'INTO');
  if (sc.peek()?.kind === 'op') throw unsupported('COPY INTO a location (unload)');
  const table = objectName(ctx, sc.qualified().parts);
  if (sc.acceptOp('(')) throw unsupported('COPY INTO with a column list');
  sc.expect('FROM');
  if (sc.acceptOp('(')) throw unsupported('COPY INTO with a transformation (FROM (SELECT …))');
  const stage = await stageAt(ctx, sc);
  const opts = sc.options();
  for (const k of Object.keys(opts)) if (!KNOWN.has(k)) throw unsupported(`The COPY option ${k}`);
  const format = (opts.FILE_FORMAT ?? {}) as Record<string, OptionValue>;
  if (typeof format !== 'object' || Array.isArray(format))
    throw syntaxError('FILE_FORMAT = ( … ) was expected');
  if (format.FORMAT_NAME !== undefined) throw unsupported('Named file formats (FORMAT_NAME)');
  const type = str(format.TYPE) ?? 'CSV';
  if (type !== 'PARQUET') throw unsupported(`COPY from ${type} files (only TYPE = PARQUET is emulated)`);
  const binaryAsText = (str(format.BINARY_AS_TEXT) ?? 'TRUE') !== 'FALSE';
  const match = str(opts.MATCH_BY_COLUMN_NAME) ?? 'NONE';
  if (!['NONE', 'CASE_SENSITIVE', 'CASE_INSENSITIVE'].includes(match))
    throw syntaxError(`MATCH_BY_COLUMN_NAME = ${match}`);
  const onError = str(opts.ON_ERROR) ?? 'ABORT_STATEMENT';
  if (onError !== 'ABORT_STATEMENT') throw unsupported(`ON_ERROR = ${onError}`);
  const force = str(opts.FORCE) === 'TRUE';
  const purge = str(opts.PURGE) === 'TRUE';

  const columns = await ctx.engine.columns(ctx.session.conn, table.db, table.schema, table.name);
  if (columns.length === 0) throw doesNotExist('Table', `${table.db}.${table.schema}.${table.name}`);

  const all = await ctx.engine.stages.files(stage, str(opts.PATTERN));
  let files: StagedFile[];
  if (Array.isArray(opts.FILES)) {
    const base = stage.path === '' || stage.path.endsWith('/') ? stage.path : `${stage.path}/`;
    files = opts.FILES.map((f) => {
      const rel = `${base}${String(f)}`;
      const hit = all.find((x) => x.rel === rel);
      if (!hit)
        throw new SnowflakeSqlError(
          '091016',
          '22000',
          `Remote file '${stage.listPrefix}${rel}' was not found.`,
        );
      return hit;
    });
  } else files = all;

  const key = engineRef(table);
  const history = ctx.engine.loadHistory.get(key) ?? new Map<string, string>();
  const todo: { file: StagedFile; md5: string; local: string; rows: number }[] = [];
  for (const file of files) {
    const md5 = await StageStore.md5(file);
    const id = `${stage.display}/${file.rel}`;
    if (!force && history.get(id) === md5) continue;
    todo.push({ file, md5, local: await readable(ctx, file), rows: 0 });
  }
  if (todo.length === 0) return statusResult('Copy executed with 0 files processed.', STATEMENT_TYPE.dml);

  const inserts: string[] = [];
  for (const t of todo) {
    const src = `read_parquet(${literal(t.local)}, binary_as_string = ${binaryAsText ? 'true' : 'false'})`;
    const described = await ctx.exec.run([`DESCRIBE SELECT * FROM ${src}`], { write: false });
    const fileCols = (described?.getRows() ?? []).map((r) => ({ name: String(r[0]), type: String(r[1]) }));
    const counted = await ctx.exec.run([`SELECT count(*) FROM ${src}`], { write: false });
    t.rows = Number(counted?.getRows()[0]?.[0] ?? 0);
    const targets: string[] = [];
    const exprs: string[] = [];
    if (match === 'NONE') {
      const only = columns[0]!;
      if (columns.length !== 1 || !['VARIANT', 'OBJECT', 'ARRAY'].includes(only.type.base))
        throw new SnowflakeSqlError(
          '002019',
          '0A000',
          'SQL compilation error:\nPARQUET file format can produce one and only one column of type variant, object, or array. Use CSV file format if you want to load more than one column.',
        );
      targets.push(engineIdent(only.name));
      exprs.push('CAST(to_json(_sf_row) AS JSON)');
    } else {
      for (const c of columns) {
        const f = fileCols.find((x) =>
          match === 'CASE_SENSITIVE' ? x.name === c.name : x.name.toUpperCase() === c.name.toUpperCase(),
        );
        if (!f) continue;
        targets.push(engineIdent(c.name));
        exprs.push(convert(`_sf_row.${quoteRaw(f.name)}`, f.type, c.type));
      }
      if (targets.length === 0) {
        targets.push(engineIdent(columns[0]!.name));
        exprs.push('NULL');
      }
    }
    inserts.push(
      `INSERT INTO ${key} (${targets.join(', ')}) SELECT ${exprs.join(', ')} FROM ${src} AS _sf_row`,
    );
  }
  await ctx.exec.run(inserts, { write: true });
  for (const t of todo) history.set(`${stage.display}/${t.file.rel}`, t.md5);
  ctx.engine.loadHistory.set(key, history);
  if (purge) for (const t of todo) await rm(t.file.abs, { force: true });
  return {
    rowtype: [
      textColumn('file'),
      textColumn('status'),
      fixedColumn('rows_parsed'),
      fixedColumn('rows_loaded'),
      fixedColumn('error_limit'),
      fixedColumn('errors_seen'),
      textColumn('first_error'),
      fixedColumn('first_error_line'),
      fixedColumn('first_error_character'),
      textColumn('first_error_column_name'),
    ],
    rowset: todo.map((t) => [
      `${stage.listPrefix}${t.file.rel}`,
      'LOADED',
      String(t.rows),
      String(t.rows),
      '1',
      '0',
      null,
      null,
      null,
      null,
    ]),
    statementTypeId: STATEMENT_TYPE.dml,
  };
}

/** A file the engine can read: gzipped files are decompressed into a private scratch file. */
async function readable(ctx: StatementContext, file: StagedFile): Promise<string> {
  if (!file.rel.endsWith('.gz')) return file.abs;
  const dir = join(ctx.engine.stages.root, '.scratch');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out = join(dir, `${randomBytes(8).toString('hex')}.parquet`);
  await writeFile(out, gunzipSync(await readFile(file.abs)), { mode: 0o600 });
  ctx.session.scratch.push(out);
  return out;
}

function quoteRaw(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The conversion of a file column into a target column. */
function convert(expr: string, fileType: string, target: SfType): string {
  if (target.base === 'VARIANT' || target.base === 'OBJECT' || target.base === 'ARRAY')
    return fileType === 'JSON' ? expr : `CAST(to_json(${expr}) AS JSON)`;
  if (target.base === 'BINARY') return fileType === 'BLOB' ? expr : `encode(CAST(${expr} AS VARCHAR))`;
  return `CAST(${expr} AS ${engineType(target)})`;
}

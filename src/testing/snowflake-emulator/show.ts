/**
 * SHOW TABLES | VIEWS | SCHEMAS | DATABASES | STAGES | COLUMNS and DESCRIBE
 * TABLE, with Snowflake's (lower-case) output column names.
 */
import { objectName } from './ddl.js';
import { doesNotExist, unsupported } from './errors.js';
import { encodeName } from './names.js';
import { fixedColumn, type RowType, textColumn } from './result-encoding.js';
import { dataTypeName } from './sql/info-schema.js';
import type { Scanner } from './sql/scanner.js';
import { isWord } from './sql/tokens.js';
import { STATEMENT_TYPE, type StatementContext, type StatementResult } from './statement-context.js';
import { renderSfType } from './types.js';

const CREATED = new Date(0).toISOString();

function result(cols: RowType[], rows: (string | null)[][]): StatementResult {
  return { rowtype: cols, rowset: rows, statementTypeId: STATEMENT_TYPE.select };
}

/** A LIKE pattern (case-insensitive, % and _) as a test. */
function likeTest(pattern: string | undefined): (name: string) => boolean {
  if (pattern === undefined) return () => true;
  const re = new RegExp(
    `^${pattern
      .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      .replace(/%/g, '.*')
      .replace(/_/g, '.')}$`,
    'is',
  );
  return (name) => re.test(name);
}

/** SHOW … (after SHOW). */
export async function show(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  sc.accept('TERSE');
  const what = sc.peek()?.value.toUpperCase();
  if (!isWord(sc.peek(), 'TABLES', 'VIEWS', 'SCHEMAS', 'DATABASES', 'STAGES', 'COLUMNS', 'OBJECTS'))
    throw unsupported(`SHOW ${what ?? ''}`);
  sc.pos++;
  const like = sc.accept('LIKE') ? likeTest(sc.string()) : likeTest(undefined);
  let db: string | undefined = ctx.session.database ?? undefined;
  let schema: string | undefined = ctx.session.schema ?? undefined;
  let table: string | undefined;
  if (sc.accept('IN')) {
    if (sc.accept('ACCOUNT')) {
      db = undefined;
      schema = undefined;
    } else if (sc.accept('DATABASE')) {
      db = sc.done ? db : sc.ident();
      schema = undefined;
    } else if (sc.accept('TABLE') || what === 'COLUMNS') {
      const o = objectName(ctx, sc.qualified().parts);
      db = o.db;
      schema = o.schema;
      table = o.name;
    } else {
      sc.accept('SCHEMA');
      const parts = sc.qualified().parts;
      schema = parts.at(-1);
      if (parts.length > 1) db = parts.at(-2);
    }
  } else if (what === 'SCHEMAS') schema = undefined;
  const conn = ctx.session.conn;
  switch (what) {
    case 'DATABASES': {
      const dbs = (await ctx.engine.databases()).filter(like);
      return result(
        [
          'created_on',
          'name',
          'is_default',
          'is_current',
          'origin',
          'owner',
          'comment',
          'options',
          'retention_time',
        ].map(textColumn),
        dbs.map((d) => [
          CREATED,
          d,
          'N',
          d === ctx.session.database ? 'Y' : 'N',
          '',
          'SYSADMIN',
          '',
          '',
          '1',
        ]),
      );
    }
    case 'SCHEMAS': {
      const schemas = (await ctx.engine.schemas(conn, db)).filter((s) => like(s.name));
      return result(
        [
          'created_on',
          'name',
          'is_default',
          'is_current',
          'database_name',
          'owner',
          'comment',
          'options',
          'retention_time',
        ].map(textColumn),
        schemas.map((s) => [
          CREATED,
          s.name,
          'N',
          s.database === ctx.session.database && s.name === ctx.session.schema ? 'Y' : 'N',
          s.database,
          'SYSADMIN',
          '',
          '',
          '1',
        ]),
      );
    }
    case 'TABLES':
    case 'VIEWS':
    case 'OBJECTS': {
      const kind = what === 'TABLES' ? 'TABLE' : what === 'VIEWS' ? 'VIEW' : undefined;
      const tables = (await ctx.engine.tables(conn, db, schema)).filter(
        (t) => (!kind || t.kind === kind) && like(t.name),
      );
      const rows: (string | null)[][] = [];
      for (const t of tables) {
        const r = await ctx.exec.run([`SELECT count(*) FROM ${engineRefOf(t)}`], { write: false });
        rows.push([
          CREATED,
          t.name,
          t.database,
          t.schema,
          t.kind,
          '',
          '',
          String(r?.getRows()[0]?.[0] ?? 0),
          '0',
          'SYSADMIN',
          '1',
        ]);
      }
      return result(
        [
          textColumn('created_on'),
          textColumn('name'),
          textColumn('database_name'),
          textColumn('schema_name'),
          textColumn('kind'),
          textColumn('comment'),
          textColumn('cluster_by'),
          fixedColumn('rows'),
          fixedColumn('bytes'),
          textColumn('owner'),
          textColumn('retention_time'),
        ],
        rows,
      );
    }
    case 'COLUMNS': {
      const cols = (await ctx.engine.columns(conn, db, schema, table)).filter((c) => like(c.name));
      return result(
        [
          'table_name',
          'schema_name',
          'column_name',
          'data_type',
          'null?',
          'default',
          'kind',
          'expression',
          'comment',
          'database_name',
          'autoincrement',
        ].map(textColumn),
        cols.map((c) => [
          c.table,
          c.schema,
          c.name,
          JSON.stringify({ type: dataTypeName(c.type), nullable: c.nullable }),
          c.nullable ? 'true' : 'false',
          c.default ?? '',
          'COLUMN',
          '',
          '',
          c.database,
          '',
        ]),
      );
    }
    default: {
      const stages = ctx.engine.stages.list(db, schema).filter((s) => like(s.name));
      return result(
        [
          'created_on',
          'name',
          'database_name',
          'schema_name',
          'url',
          'has_credentials',
          'has_encryption_key',
          'owner',
          'comment',
          'region',
          'type',
          'cloud',
        ].map(textColumn),
        stages.map((s) => [
          CREATED,
          s.name,
          s.db,
          s.schema,
          '',
          'N',
          'N',
          'SYSADMIN',
          '',
          null,
          s.temporary ? 'INTERNAL TEMPORARY' : 'INTERNAL',
          null,
        ]),
      );
    }
  }
}

function engineRefOf(t: { database: string; schema: string; name: string }): string {
  return [t.database, t.schema, t.name].map((p) => `"${encodeForEngine(p)}"`).join('.');
}

function encodeForEngine(p: string): string {
  return encodeName(p).replace(/"/g, '""');
}

/** DESCRIBE | DESC [TABLE | VIEW] name. */
export async function describe(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  if (
    !sc.accept('TABLE') &&
    !sc.accept('VIEW') &&
    isWord(sc.peek(), 'STAGE', 'SCHEMA', 'DATABASE', 'USER', 'WAREHOUSE')
  )
    throw unsupported(`DESCRIBE ${sc.peek()!.value}`);
  const o = objectName(ctx, sc.qualified().parts);
  const cols = await ctx.engine.columns(ctx.session.conn, o.db, o.schema, o.name);
  if (cols.length === 0) throw doesNotExist('Table', `${o.db}.${o.schema}.${o.name}`);
  return result(
    [
      'name',
      'type',
      'kind',
      'null?',
      'default',
      'primary key',
      'unique key',
      'check',
      'expression',
      'comment',
      'policy name',
      'privacy domain',
    ].map(textColumn),
    cols.map((c) => [
      c.name,
      renderSfType(c.type),
      'COLUMN',
      c.nullable ? 'Y' : 'N',
      c.default,
      'N',
      'N',
      null,
      null,
      null,
      null,
      null,
    ]),
  );
}

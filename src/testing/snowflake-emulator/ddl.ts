/**
 * DDL: CREATE/ALTER/DROP of tables, views, schemas, databases and stages,
 * and USE. Each commits the session's open transaction first (Snowflake's
 * implicit commit). A table column's declared Snowflake type is recorded in
 * its comment (see types.ts). Primary, unique and foreign keys are accepted
 * and not enforced, as in Snowflake.
 */
import { doesNotExist, SnowflakeSqlError, syntaxError, unsupported } from './errors.js';
import { engineIdent, literal } from './names.js';
import type { Scanner } from './sql/scanner.js';
import { isOp, isWord } from './sql/tokens.js';
import { readType } from './sql/translate.js';
import {
  STATEMENT_TYPE,
  type StatementContext,
  type StatementResult,
  statusResult,
} from './statement-context.js';
import { canAlterType, engineType, renderSfType, type SfType, typeComment } from './types.js';

/** A fully qualified object. */
export interface ObjectName {
  readonly db: string;
  readonly schema: string;
  readonly name: string;
}

/** Resolves a 1-, 2- or 3-part name against the session's current database and schema. */
export function objectName(ctx: StatementContext, parts: readonly string[]): ObjectName {
  const name = parts.at(-1)!;
  const schema = parts.length >= 2 ? parts.at(-2)! : ctx.session.schema;
  const db = parts.length >= 3 ? parts.at(-3)! : ctx.session.database;
  if (!db)
    throw new SnowflakeSqlError(
      '090105',
      '22000',
      "Cannot perform this operation. This session does not have a current database. Call 'USE DATABASE', or use a qualified name.",
    );
  if (!schema)
    throw new SnowflakeSqlError(
      '090106',
      '22000',
      "Cannot perform this operation. This session does not have a current schema. Call 'USE SCHEMA', or use a qualified name.",
    );
  return { db, schema, name };
}

/** `"DB"."SCHEMA"."NAME"` for the engine. */
export function engineRef(o: ObjectName): string {
  return `${engineIdent(o.db)}.${engineIdent(o.schema)}.${engineIdent(o.name)}`;
}

const CONSTRAINT_WORDS = [
  'NOT',
  'NULL',
  'DEFAULT',
  'PRIMARY',
  'UNIQUE',
  'REFERENCES',
  'FOREIGN',
  'CONSTRAINT',
  'COLLATE',
  'COMMENT',
  'AUTOINCREMENT',
  'IDENTITY',
  'WITH',
  'MASKING',
  'TAG',
  'CHECK',
];

interface ColumnDef {
  readonly name: string;
  readonly type: SfType;
  readonly notNull: boolean;
  readonly defaultSql?: string;
}

/** Reads `name type [constraints]` at the scanner; stops before `,` or `)`. */
async function columnDef(ctx: StatementContext, sc: Scanner): Promise<ColumnDef> {
  const name = sc.ident();
  const [type, after] = readType(sc.tokens, sc.pos);
  sc.pos = after;
  let notNull = false;
  let defaultSql: string | undefined;
  while (!sc.done && !isOp(sc.peek(), ',') && !isOp(sc.peek(), ')')) {
    if (sc.accept('NOT', 'NULL')) notNull = true;
    else if (sc.accept('NULL')) notNull = false;
    else if (sc.accept('DEFAULT')) {
      const start = sc.pos;
      let depth = 0;
      while (!sc.done) {
        const t = sc.peek()!;
        if (isOp(t, '(')) depth++;
        else if (isOp(t, ')')) {
          if (depth === 0) break;
          depth--;
        } else if (
          depth === 0 &&
          (isOp(t, ',') || (t.kind === 'word' && CONSTRAINT_WORDS.includes(t.value.toUpperCase())))
        )
          break;
        sc.pos++;
      }
      defaultSql = await ctx.translate(start, sc.pos);
    } else if (sc.accept('PRIMARY', 'KEY') || sc.accept('UNIQUE')) {
      // not enforced
    } else if (sc.accept('CONSTRAINT')) sc.ident();
    else if (sc.accept('REFERENCES')) {
      sc.qualified();
      if (isOp(sc.peek(), '(')) skipParens(sc);
    } else if (sc.accept('COLLATE') || sc.accept('COMMENT')) sc.string();
    else if (isWord(sc.peek(), 'AUTOINCREMENT', 'IDENTITY'))
      throw unsupported('AUTOINCREMENT / IDENTITY columns');
    else throw syntaxError(`unexpected '${sc.peek()!.value}' in the definition of column ${name}`);
  }
  return { name, type, notNull, ...(defaultSql === undefined ? {} : { defaultSql }) };
}

function skipParens(sc: Scanner): void {
  let depth = 0;
  do {
    if (sc.acceptOp('(')) depth++;
    else if (sc.acceptOp(')')) depth--;
    else sc.pos++;
  } while (depth > 0 && !sc.done);
}

function renderColumn(c: ColumnDef): string {
  return `${engineIdent(c.name)} ${engineType(c.type)}${c.notNull ? ' NOT NULL' : ''}${c.defaultSql ? ` DEFAULT ${c.defaultSql}` : ''}`;
}

function commentSql(table: ObjectName, column: string, type: SfType): string {
  return `COMMENT ON COLUMN ${engineRef(table)}.${engineIdent(column)} IS ${literal(typeComment(type))}`;
}

async function tableExists(ctx: StatementContext, o: ObjectName): Promise<boolean> {
  const tables = await ctx.engine.tables(ctx.session.conn, o.db, o.schema);
  return tables.some((t) => t.name === o.name);
}

/** CREATE … (after the CREATE keyword). */
export async function create(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  const replace = sc.accept('OR', 'REPLACE');
  let temporary = false;
  while (isWord(sc.peek(), 'LOCAL', 'GLOBAL', 'TEMP', 'TEMPORARY', 'VOLATILE', 'TRANSIENT')) {
    if (isWord(sc.peek(), 'TEMP', 'TEMPORARY', 'VOLATILE')) temporary = true;
    sc.pos++;
  }
  if (sc.accept('TABLE')) return createTable(ctx, sc, replace);
  if (sc.accept('SCHEMA')) {
    const ifNot = sc.accept('IF', 'NOT', 'EXISTS');
    const parts = sc.qualified().parts;
    const o = objectName(ctx, [...parts, '_']);
    const schema = { db: o.db, schema: parts.at(-1)! };
    if (replace)
      await ctx.exec.ddl([
        `DROP SCHEMA IF EXISTS ${engineIdent(schema.db)}.${engineIdent(schema.schema)} CASCADE`,
      ]);
    const exists = await ctx.engine.schemaExists(ctx.session.conn, schema.db, schema.schema);
    if (exists && ifNot) return statusResult(`${schema.schema} already exists, statement succeeded.`);
    await ctx.exec.ddl([`CREATE SCHEMA ${engineIdent(schema.db)}.${engineIdent(schema.schema)}`]);
    await useSchema(ctx, schema.db, schema.schema);
    return statusResult(`Schema ${schema.schema} successfully created.`);
  }
  if (sc.accept('DATABASE')) {
    const ifNot = sc.accept('IF', 'NOT', 'EXISTS');
    const name = sc.ident();
    await ctx.exec.commit();
    if (replace && (await ctx.engine.databaseExists(name)))
      await ctx.exec.plain(`DETACH ${engineIdent(name)}`);
    const created = await ctx.engine.createDatabase(name, ifNot);
    if (!created) return statusResult(`${name} already exists, statement succeeded.`);
    await useSchema(ctx, name, 'PUBLIC');
    return statusResult(`Database ${name} successfully created.`);
  }
  if (sc.accept('VIEW')) {
    const ifNot = sc.accept('IF', 'NOT', 'EXISTS');
    const o = objectName(ctx, sc.qualified().parts);
    if (isOp(sc.peek(), '(')) throw unsupported('A column list in CREATE VIEW');
    while (!sc.done && !isWord(sc.peek(), 'AS')) sc.pos++;
    sc.expect('AS');
    const query = await ctx.translate(sc.pos);
    await ctx.exec.ddl([
      `CREATE ${replace ? 'OR REPLACE ' : ''}VIEW ${ifNot ? 'IF NOT EXISTS ' : ''}${engineRef(o)} AS ${query}`,
    ]);
    return statusResult(`View ${o.name} successfully created.`);
  }
  if (sc.accept('STAGE')) {
    const ifNot = sc.accept('IF', 'NOT', 'EXISTS');
    const o = objectName(ctx, sc.qualified().parts);
    if (!(await ctx.engine.schemaExists(ctx.session.conn, o.db, o.schema)))
      throw doesNotExist('Schema', `${o.db}.${o.schema}`);
    const opts = sc.options();
    if (opts.URL !== undefined) throw unsupported('External stages (URL =)');
    await ctx.exec.commit();
    const created = await ctx.engine.stages.create(o.db, o.schema, o.name, {
      temporary,
      session: ctx.session.id,
      replace,
    });
    if (!created && !ifNot)
      throw new SnowflakeSqlError(
        '002002',
        '42710',
        `SQL compilation error:\nObject '${o.name}' already exists.`,
      );
    return statusResult(
      created
        ? `Stage area ${o.name} successfully created.`
        : `${o.name} already exists, statement succeeded.`,
    );
  }
  throw unsupported(`CREATE ${sc.peek()?.value ?? ''}`);
}

async function createTable(ctx: StatementContext, sc: Scanner, replace: boolean): Promise<StatementResult> {
  const ifNot = sc.accept('IF', 'NOT', 'EXISTS');
  const o = objectName(ctx, sc.qualified().parts);
  const created = statusResult(`Table ${o.name} successfully created.`);
  if (ifNot && (await tableExists(ctx, o)))
    return statusResult(`${o.name} already exists, statement succeeded.`);
  const head = `CREATE ${replace ? 'OR REPLACE ' : ''}TABLE ${engineRef(o)}`;
  if (sc.accept('LIKE')) {
    const src = objectName(ctx, sc.qualified().parts);
    const cols = await ctx.engine.columns(ctx.session.conn, src.db, src.schema, src.name);
    if (cols.length === 0) throw doesNotExist('Table', `${src.db}.${src.schema}.${src.name}`);
    await ctx.exec.ddl([
      `${head} (${cols.map((c) => renderColumn({ name: c.name, type: c.type, notNull: !c.nullable })).join(', ')})`,
      ...cols.map((c) => commentSql(o, c.name, c.type)),
    ]);
    return created;
  }
  if (sc.accept('AS')) {
    const query = await ctx.translate(sc.pos);
    await ctx.exec.ddl([`${head} AS ${query}`]);
    return created;
  }
  sc.expectOp('(');
  const cols: ColumnDef[] = [];
  while (!sc.acceptOp(')')) {
    if (sc.acceptOp(',')) continue;
    if (isWord(sc.peek(), 'PRIMARY', 'UNIQUE', 'FOREIGN', 'CONSTRAINT')) {
      // Table constraints: accepted, not enforced.
      while (!sc.done && !isOp(sc.peek(), ',') && !isOp(sc.peek(), ')')) {
        if (isOp(sc.peek(), '(')) skipParens(sc);
        else sc.pos++;
      }
      continue;
    }
    cols.push(await columnDef(ctx, sc));
  }
  // Table options (CLUSTER BY, COMMENT =, DATA_RETENTION_TIME_IN_DAYS =, COPY GRANTS…) have no effect here.
  if (sc.accept('AS')) throw unsupported('CREATE TABLE with both a column list and AS');
  const seen = new Set<string>();
  for (const c of cols) {
    if (seen.has(c.name))
      throw new SnowflakeSqlError(
        '002025',
        '42S21',
        `SQL compilation error:\nduplicate column name '${c.name}'`,
      );
    seen.add(c.name);
  }
  await ctx.exec.ddl([
    `${head} (${cols.map(renderColumn).join(', ')})`,
    ...cols.map((c) => commentSql(o, c.name, c.type)),
  ]);
  return created;
}

/** ALTER TABLE … (after ALTER TABLE). */
export async function alterTable(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  const ifExists = sc.accept('IF', 'EXISTS');
  const o = objectName(ctx, sc.qualified().parts);
  if (!(await tableExists(ctx, o))) {
    if (ifExists) return statusResult('Statement executed successfully.');
    throw doesNotExist('Table', `${o.db}.${o.schema}.${o.name}`);
  }
  const ref = engineRef(o);
  const sqls: string[] = [];
  if (sc.accept('ADD')) {
    sc.accept('COLUMN');
    const ifNot = sc.accept('IF', 'NOT', 'EXISTS');
    do {
      const c = await columnDef(ctx, sc);
      sqls.push(
        `ALTER TABLE ${ref} ADD COLUMN ${ifNot ? 'IF NOT EXISTS ' : ''}${renderColumn(c)}`,
        commentSql(o, c.name, c.type),
      );
    } while (sc.acceptOp(','));
  } else if (sc.accept('DROP')) {
    sc.accept('COLUMN');
    const ifEx = sc.accept('IF', 'EXISTS');
    do sqls.push(`ALTER TABLE ${ref} DROP COLUMN ${ifEx ? 'IF EXISTS ' : ''}${engineIdent(sc.ident())}`);
    while (sc.acceptOp(','));
  } else if (sc.accept('ALTER') || sc.accept('MODIFY')) {
    sc.accept('COLUMN');
    const col = sc.ident();
    const current = (await ctx.engine.columns(ctx.session.conn, o.db, o.schema, o.name)).find(
      (c) => c.name === col,
    );
    if (!current)
      throw new SnowflakeSqlError(
        '000904',
        '42000',
        `SQL compilation error: error line 1 at position 0\ninvalid identifier '${col}'`,
      );
    if (sc.accept('SET', 'DATA', 'TYPE') || sc.accept('TYPE') || sc.accept('SET', 'TYPE')) {
      const [type, after] = readType(sc.tokens, sc.pos);
      sc.pos = after;
      if (!canAlterType(current.type, type))
        throw new SnowflakeSqlError(
          '002108',
          '22000',
          `SQL compilation error: cannot change column ${col} from type ${renderSfType(current.type)} to ${renderSfType(type)}`,
        );
      sqls.push(
        `ALTER TABLE ${ref} ALTER COLUMN ${engineIdent(col)} SET DATA TYPE ${engineType(type)}`,
        commentSql(o, col, type),
      );
    } else if (sc.accept('SET', 'NOT', 'NULL'))
      sqls.push(`ALTER TABLE ${ref} ALTER COLUMN ${engineIdent(col)} SET NOT NULL`);
    else if (sc.accept('DROP', 'NOT', 'NULL'))
      sqls.push(`ALTER TABLE ${ref} ALTER COLUMN ${engineIdent(col)} DROP NOT NULL`);
    else if (sc.accept('COMMENT')) sc.string();
    else throw unsupported(`ALTER TABLE … ALTER COLUMN ${sc.peek()?.value ?? ''}`);
  } else if (sc.accept('RENAME', 'COLUMN')) {
    const from = sc.ident();
    sc.expect('TO');
    sqls.push(`ALTER TABLE ${ref} RENAME COLUMN ${engineIdent(from)} TO ${engineIdent(sc.ident())}`);
  } else if (sc.accept('RENAME', 'TO')) {
    const to = objectName(ctx, sc.qualified().parts);
    if (to.db !== o.db || to.schema !== o.schema)
      throw unsupported('Moving a table to another schema with RENAME');
    sqls.push(`ALTER TABLE ${ref} RENAME TO ${engineIdent(to.name)}`);
  } else if (isWord(sc.peek(), 'SET', 'UNSET', 'CLUSTER', 'SUSPEND', 'RESUME')) {
    return statusResult('Statement executed successfully.');
  } else throw unsupported(`ALTER TABLE … ${sc.peek()?.value ?? ''}`);
  await ctx.exec.ddl(sqls);
  return statusResult('Statement executed successfully.');
}

/** DROP … (after DROP). */
export async function drop(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  const kind = sc.peek()?.value.toUpperCase();
  if (!isWord(sc.peek(), 'TABLE', 'VIEW', 'SCHEMA', 'DATABASE', 'STAGE'))
    throw unsupported(`DROP ${kind ?? ''}`);
  sc.pos++;
  const ifExists = sc.accept('IF', 'EXISTS');
  const parts = sc.qualified().parts;
  const gone = (what: string, name: string) => {
    if (ifExists) return statusResult('Drop statement executed successfully (' + name + ' already dropped).');
    throw doesNotExist(what, name);
  };
  if (kind === 'TABLE' || kind === 'VIEW') {
    const o = objectName(ctx, parts);
    const exists = (await ctx.engine.tables(ctx.session.conn, o.db, o.schema)).some(
      (t) => t.name === o.name && t.kind === kind,
    );
    if (!exists) return gone(kind === 'TABLE' ? 'Table' : 'View', `${o.db}.${o.schema}.${o.name}`);
    await ctx.exec.ddl([`DROP ${kind} ${engineRef(o)}`]);
    ctx.engine.loadHistory.delete(engineRef(o));
    return statusResult(`${o.name} successfully dropped.`);
  }
  if (kind === 'SCHEMA') {
    const o = objectName(ctx, [...parts, '_']);
    const schema = parts.at(-1)!;
    if (!(await ctx.engine.schemaExists(ctx.session.conn, o.db, schema)))
      return gone('Schema', `${o.db}.${schema}`);
    await ctx.exec.ddl([`DROP SCHEMA ${engineIdent(o.db)}.${engineIdent(schema)} CASCADE`]);
    if (ctx.session.database === o.db && ctx.session.schema === schema) ctx.session.schema = null;
    return statusResult(`${schema} successfully dropped.`);
  }
  if (kind === 'DATABASE') {
    const name = parts.at(-1)!;
    if (!(await ctx.engine.databaseExists(name))) return gone('Database', name);
    await ctx.exec.commit();
    if (ctx.session.database === name) {
      await ctx.exec.plain('USE memory.main');
      ctx.session.database = null;
      ctx.session.schema = null;
    }
    await ctx.exec.plain(`DETACH ${engineIdent(name)}`);
    return statusResult(`${name} successfully dropped.`);
  }
  const o = objectName(ctx, parts);
  await ctx.exec.commit();
  if (!(await ctx.engine.stages.drop(o.db, o.schema, o.name)))
    return gone('Stage', `${o.db}.${o.schema}.${o.name}`);
  return statusResult(`${o.name} successfully dropped.`);
}

async function useSchema(ctx: StatementContext, db: string, schema: string | null): Promise<void> {
  await ctx.exec.plain(schema ? `USE ${engineIdent(db)}.${engineIdent(schema)}` : `USE ${engineIdent(db)}`);
  ctx.session.database = db;
  ctx.session.schema = schema;
}

/** USE [DATABASE | SCHEMA | WAREHOUSE | ROLE] name. */
export async function use(ctx: StatementContext, sc: Scanner): Promise<StatementResult> {
  const done = statusResult('Statement executed successfully.', STATEMENT_TYPE.scl);
  if (sc.accept('WAREHOUSE')) {
    ctx.session.warehouse = sc.ident();
    return done;
  }
  if (sc.accept('ROLE')) {
    ctx.session.role = sc.ident();
    return done;
  }
  if (sc.accept('SECONDARY', 'ROLES')) return done;
  if (sc.accept('DATABASE')) {
    const db = sc.ident();
    if (!(await ctx.engine.databaseExists(db))) throw doesNotExist('Database', db);
    const hasPublic = await ctx.engine.schemaExists(ctx.session.conn, db, 'PUBLIC');
    await useSchema(ctx, db, hasPublic ? 'PUBLIC' : null);
    return done;
  }
  const explicitSchema = sc.accept('SCHEMA');
  const parts = sc.qualified().parts;
  if (!explicitSchema && parts.length === 1 && (await ctx.engine.databaseExists(parts[0]!))) {
    const hasPublic = await ctx.engine.schemaExists(ctx.session.conn, parts[0]!, 'PUBLIC');
    await useSchema(ctx, parts[0]!, hasPublic ? 'PUBLIC' : null);
    return done;
  }
  const o = objectName(ctx, [...parts, '_']);
  const schema = parts.at(-1)!;
  if (!(await ctx.engine.schemaExists(ctx.session.conn, o.db, schema)))
    throw doesNotExist('Schema', `${o.db}.${schema}`);
  await useSchema(ctx, o.db, schema);
  return done;
}

export { tableExists };

/**
 * What every statement handler works with: the session, its {@link Exec},
 * the statement's tokens and binds, and translation of token ranges (with
 * INFORMATION_SCHEMA views filled from the catalog as the session sees it).
 */
import type { Engine, Exec } from './engine.js';
import { unsupported } from './errors.js';
import { type RowType, textColumn } from './result-encoding.js';
import type { Session } from './session.js';
import { infoSchemaSql } from './sql/info-schema.js';
import { isWord, type Token } from './sql/tokens.js';
import { type Bind, type TranslateContext, translate } from './sql/translate.js';

/** Statement type ids the driver reads (lib/connection/result/statement_type.js). */
export const STATEMENT_TYPE = {
  select: 0x1000,
  dml: 0x3000,
  insert: 0x3100,
  update: 0x3200,
  delete: 0x3300,
  merge: 0x3400,
  scl: 0x4000,
  tcl: 0x5000,
  ddl: 0x6000,
} as const;

/** What a statement returns. */
export interface StatementResult {
  readonly rowtype: RowType[];
  readonly rowset: (string | null)[][];
  readonly statementTypeId: number;
  /** PUT: the upload instructions the driver acts on. */
  readonly upload?: Record<string, unknown>;
}

/** A one-row `status` result. */
export function statusResult(message: string, statementTypeId: number = STATEMENT_TYPE.ddl): StatementResult {
  return { rowtype: [textColumn('status')], rowset: [[message]], statementTypeId };
}

export class StatementContext {
  constructor(
    readonly engine: Engine,
    readonly session: Session,
    readonly exec: Exec,
    readonly sql: string,
    readonly tokens: Token[],
    readonly binds: readonly Bind[],
    readonly account: string,
  ) {}

  /** Translates `tokens[from, to)` to engine SQL. */
  async translate(from = 0, to = this.tokens.length, aliases?: ReadonlyMap<number, string>): Promise<string> {
    const s = this.session;
    let views: Map<string, string> | undefined;
    if (this.tokens.some((t, i) => i >= from && i < to && isWord(t, 'INFORMATION_SCHEMA'))) {
      views = new Map();
      const [tables, columns, schemas] = await Promise.all([
        this.engine.tables(s.conn),
        this.engine.columns(s.conn),
        this.engine.schemas(s.conn),
      ]);
      const dbs = await this.engine.databases();
      for (const db of dbs)
        for (const view of ['COLUMNS', 'TABLES', 'SCHEMATA', 'VIEWS', 'DATABASES'])
          views.set(
            `${db}\u0000${view}`,
            infoSchemaSql(view, db, { tables, columns, schemas, databases: dbs }),
          );
    }
    const ctx: TranslateContext = {
      binds: this.binds,
      nextBind: 0,
      sessionValue: (name) => this.sessionValue(name),
      infoSchema: (db, view) => {
        const d = db ?? s.database;
        const sql = views?.get(`${d}\u0000${view}`);
        if (!sql) throw unsupported(`INFORMATION_SCHEMA.${view} (of database ${d ?? 'none'})`);
        return sql;
      },
    };
    return translate(this.tokens, ctx, from, to, aliases);
  }

  sessionValue(name: string): string | null {
    const s = this.session;
    switch (name) {
      case 'CURRENT_DATABASE':
        return s.database;
      case 'CURRENT_SCHEMA':
        return s.schema;
      case 'CURRENT_WAREHOUSE':
        return s.warehouse;
      case 'CURRENT_ROLE':
        return s.role;
      case 'CURRENT_USER':
        return s.user;
      case 'CURRENT_ACCOUNT':
        return this.account.toUpperCase();
      case 'CURRENT_SESSION':
        return String(s.id);
      case 'CURRENT_REGION':
        return 'EMULATOR';
      case 'CURRENT_VERSION':
        return '9.0.0';
      case 'CURRENT_CLIENT':
        return 'JavaScript';
      case 'LAST_QUERY_ID':
        return s.lastQueryId;
      default:
        return null;
    }
  }
}

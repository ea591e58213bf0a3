/**
 * The HTTP side: the endpoints `snowflake-sdk` calls (login, token renewal,
 * heartbeat, logout, query, result and status fetches, abort, telemetry),
 * replies cached per requestId so a driver retry never runs a statement
 * twice (as Snowflake does), and fault injection.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { badCredentials, type UserDirectory } from './auth.js';
import type { Engine } from './engine.js';
import { SnowflakeSqlError } from './errors.js';
import type { EmulatorFaults, FaultAction } from './faults.js';
import type { ParamValue, Session } from './session.js';
import { splitStatements } from './sql/tokens.js';
import type { Bind } from './sql/translate.js';
import type { StatementResult } from './statement-context.js';
import { runStatement } from './statements.js';

/** A statement the emulator ran for a driver (once per requestId). */
export interface StatementRecord {
  readonly sql: string;
  readonly sessionId: number;
  readonly requestId: string;
  readonly queryId: string;
  /** Snowflake error code when it failed. */
  readonly errorCode?: string;
  readonly at: Date;
  /** Time the statement took to run (set when it finished). */
  readonly durationMs?: number;
}

/** A login attempt. */
export interface LoginRecord {
  readonly user: string;
  /** `SNOWFLAKE` (password) or `SNOWFLAKE_JWT` (key pair). */
  readonly authenticator: string;
  /** Snowflake error code when it was refused. */
  readonly errorCode?: string;
  readonly at: Date;
}

/** What the server needs. */
export interface ServerContext {
  readonly engine: Engine;
  readonly users: UserDirectory;
  readonly faults: EmulatorFaults;
  readonly account: string;
  readonly statements: StatementRecord[];
  readonly logins: LoginRecord[];
  readonly defaults: { database: string; schema: string; warehouse: string; role: string };
}

/** Session parameters every result carries (the driver needs BINARY_OUTPUT_FORMAT and the output formats). */
const DEFAULT_PARAMS: Record<string, ParamValue> = {
  TIMEZONE: 'UTC',
  BINARY_OUTPUT_FORMAT: 'HEX',
  DATE_OUTPUT_FORMAT: 'YYYY-MM-DD',
  TIME_OUTPUT_FORMAT: 'HH24:MI:SS',
  TIMESTAMP_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM',
  TIMESTAMP_NTZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF3',
  TIMESTAMP_LTZ_OUTPUT_FORMAT: '',
  TIMESTAMP_TZ_OUTPUT_FORMAT: '',
  // Array binds stay inline: the stage-binding path needs an in-memory PUT the LOCAL_FS stage cannot take.
  CLIENT_STAGE_ARRAY_BINDING_THRESHOLD: 1_000_000_000,
  CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY: 3600,
};

function params(session: Session | undefined): { name: string; value: ParamValue }[] {
  const all = new Map<string, ParamValue>(Object.entries(DEFAULT_PARAMS));
  for (const [k, v] of session?.params ?? []) all.set(k, v);
  return [...all].map(([name, value]) => ({ name, value }));
}

/** Folds a name from the login URL: quoted keeps its case, unquoted is upper-cased. */
function foldName(v: string | null): string | null {
  if (!v) return null;
  return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v.toUpperCase();
}

function errorReply(err: unknown, queryId?: string): Record<string, unknown> {
  const e =
    err instanceof SnowflakeSqlError
      ? err
      : new SnowflakeSqlError(
          '000603',
          'XX000',
          `SQL execution internal error: ${(err as Error)?.message ?? String(err)}`,
        );
  return {
    success: false,
    code: e.code,
    message: e.message,
    data: { errorCode: e.code, sqlState: e.sqlState, queryId: queryId ?? null, internalError: false, age: 0 },
  };
}

function newQueryId(): string {
  return `01${randomBytes(15).toString('hex')}`;
}

export class EmulatorServer {
  readonly sessions = new Map<string, Session>();
  private readonly masters = new Map<string, Session>();
  private readonly replies = new Map<string, Promise<Record<string, unknown>>>();
  private readonly results = new Map<string, Record<string, unknown>>();
  private nextSession = 1;
  readonly http: Server;

  constructor(private readonly ctx: ServerContext) {
    this.http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
          if (!res.headersSent && !res.destroyed) {
            res.statusCode = 500;
            res.end(String((err as Error)?.message ?? err));
          }
        });
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname;
    const text = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
    let body: Record<string, unknown> = {};
    if (text) {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return this.send(res, 400, { success: false, code: '390400', message: 'Malformed JSON body.' });
      }
    }
    const requestId = url.searchParams.get('requestId') ?? randomUUID();
    const endpoint =
      path === '/session/v1/login-request'
        ? 'login'
        : path === '/queries/v1/query-request'
          ? 'query'
          : path === '/session/heartbeat'
            ? 'heartbeat'
            : 'other';
    const sql = endpoint === 'query' ? String(body.sqlText ?? '') : undefined;
    if (this.ctx.faults.latencyMs > 0) await sleep(this.ctx.faults.latencyMs);
    const action = this.ctx.faults.pick({ endpoint, requestId, ...(sql === undefined ? {} : { sql }) });
    if (action) {
      const handled = await this.before(action, req, res);
      if (handled) return;
    }
    const reply = await this.route(endpoint, path, url, req, body, requestId);
    if (action?.kind === 'drop-after-apply') {
      const json = JSON.stringify(reply);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.write(json.slice(0, Math.floor(json.length / 2)));
      setImmediate(() => req.socket.destroy());
      return;
    }
    if (action?.kind === 'hang-after-apply') return this.hang(req, res);
    if (action?.kind === 'error-after-apply') {
      const {
        code = '000603',
        sqlState = 'XX000',
        message = 'SQL execution internal error: injected fault',
      } = action;
      return this.send(res, 200, errorReply(new SnowflakeSqlError(code, sqlState, message), newQueryId()));
    }
    this.send(res, 200, reply);
  }

  /** Applies a fault before the request runs; true when the request is finished with. */
  private async before(action: FaultAction, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    switch (action.kind) {
      case 'latency':
        await sleep(action.ms);
        return false;
      case 'http-status':
        res.statusCode = action.status;
        res.setHeader('content-type', 'text/plain');
        if (action.status === 429) res.setHeader('retry-after', '0');
        res.end(`injected HTTP ${action.status}`);
        return true;
      case 'hang':
        this.hang(req, res);
        return true;
      case 'drop':
        req.socket.destroy();
        return true;
      case 'error':
        this.send(
          res,
          200,
          errorReply(
            new SnowflakeSqlError(
              action.code ?? '000603',
              action.sqlState ?? 'XX000',
              action.message ?? 'SQL execution internal error: injected fault',
            ),
            newQueryId(),
          ),
        );
        return true;
      default:
        return false;
    }
  }

  private hang(req: IncomingMessage, res: ServerResponse): void {
    const release = this.ctx.faults.hold(() => req.socket.destroy());
    res.on('close', release);
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.destroyed) return;
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  private token(req: IncomingMessage): string {
    return /Token="([^"]*)"/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
  }

  private async route(
    endpoint: string,
    path: string,
    url: URL,
    req: IncomingMessage,
    body: Record<string, unknown>,
    requestId: string,
  ): Promise<Record<string, unknown>> {
    if (endpoint === 'login') return this.login(url, body);
    if (path === '/telemetry/send') return { success: true, data: null };
    if (path === '/session/token-request') return this.renew(req, body);
    const session = this.sessions.get(this.token(req));
    if (!session)
      return {
        success: false,
        code: '390111',
        message: 'Session no longer exists.  New login required to access the service.',
        data: { errorCode: '390111', sqlState: '08001' },
      };
    session.lastActive = Date.now();
    if (path === '/session' && url.searchParams.get('delete') === 'true') {
      this.sessions.delete(session.token);
      this.masters.delete(session.masterToken);
      await this.ctx.engine.closeSession(session);
      return { success: true, code: null, message: null, data: null };
    }
    if (endpoint === 'heartbeat') return { success: true, code: null, message: null, data: null };
    if (endpoint === 'query') {
      const key = `${session.token}:${requestId}`;
      let reply = this.replies.get(key);
      if (!reply) {
        reply = this.query(session, body, requestId);
        this.replies.set(key, reply);
        if (this.replies.size > 10_000) this.replies.delete(this.replies.keys().next().value!);
      }
      return reply;
    }
    const result = /^\/queries\/([^/]+)\/result$/.exec(path);
    if (result) {
      const r = this.results.get(result[1]!);
      return r ?? errorReply(new SnowflakeSqlError('000709', '02000', `Statement ${result[1]} not found`));
    }
    const status = /^\/monitoring\/queries\/([^/]+)$/.exec(path);
    if (status) {
      const r = this.results.get(status[1]!);
      return {
        success: true,
        data: { queries: r ? [{ id: status[1], status: r.success ? 'SUCCESS' : 'FAILED_WITH_ERROR' }] : [] },
      };
    }
    if (/abort-request$/.test(path)) return { success: true, data: null };
    return { success: false, code: '390404', message: `Unknown endpoint ${path}.`, data: null };
  }

  private async login(url: URL, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const data = (body.data ?? {}) as Record<string, unknown>;
    const login = String(data.LOGIN_NAME ?? '');
    const account = String(data.ACCOUNT_NAME ?? '');
    let user: string;
    const auth = String(data.AUTHENTICATOR ?? 'SNOWFLAKE').toUpperCase();
    try {
      if (account.toUpperCase() !== this.ctx.account.toUpperCase()) throw badCredentials();
      if (auth === 'SNOWFLAKE_JWT') user = this.ctx.users.checkJwt(account, login, String(data.TOKEN ?? ''));
      else if (auth === 'SNOWFLAKE') user = this.ctx.users.checkPassword(login, String(data.PASSWORD ?? ''));
      else
        throw new SnowflakeSqlError(
          '390120',
          '08004',
          `Authenticator ${auth} is not supported by the emulator.`,
        );
    } catch (err) {
      const reply = errorReply(err);
      this.ctx.logins.push({
        user: login.toUpperCase(),
        authenticator: auth,
        errorCode: String(reply.code),
        at: new Date(),
      });
      return reply;
    }
    this.ctx.logins.push({ user, authenticator: auth, at: new Date() });
    const sessionParams = (data.SESSION_PARAMETERS ?? {}) as Record<string, ParamValue>;
    const p = new Map<string, ParamValue>();
    for (const [k, v] of Object.entries(sessionParams))
      if (!k.startsWith('CLIENT_REQUEST_MFA') && !k.startsWith('CLIENT_STORE')) p.set(k.toUpperCase(), v);
    const id = this.nextSession++;
    const token = `ST-${randomBytes(16).toString('hex')}`;
    const masterToken = `MT-${randomBytes(16).toString('hex')}`;
    let session: Session;
    try {
      session = await this.ctx.engine.openSession(
        { id, token, masterToken, user },
        {
          database: foldName(url.searchParams.get('databaseName')) ?? this.ctx.defaults.database,
          schema: foldName(url.searchParams.get('schemaName')),
          warehouse: foldName(url.searchParams.get('warehouse')) ?? this.ctx.defaults.warehouse,
          role: foldName(url.searchParams.get('roleName')) ?? this.ctx.defaults.role,
        },
        p,
      );
    } catch (err) {
      return errorReply(err);
    }
    this.sessions.set(token, session);
    this.masters.set(masterToken, session);
    return {
      success: true,
      code: null,
      message: null,
      data: {
        token,
        masterToken,
        validityInSeconds: 3600,
        masterValidityInSeconds: 14400,
        sessionId: id,
        parameters: params(session),
        sessionInfo: {
          databaseName: session.database,
          schemaName: session.schema,
          warehouseName: session.warehouse,
          roleName: session.role,
        },
      },
    };
  }

  private renew(req: IncomingMessage, body: Record<string, unknown>): Record<string, unknown> {
    const session = this.masters.get(this.token(req));
    if (!session || body.oldSessionToken !== session.token)
      return {
        success: false,
        code: '390114',
        message: 'Authentication token has expired.  The user must authenticate again.',
        data: null,
      };
    return {
      success: true,
      data: {
        sessionToken: session.token,
        validityInSecondsST: 3600,
        masterToken: session.masterToken,
        validityInSecondsMT: 14400,
      },
    };
  }

  private async query(
    session: Session,
    body: Record<string, unknown>,
    requestId: string,
  ): Promise<Record<string, unknown>> {
    const sqlText = String(body.sqlText ?? '');
    const bindings = (body.bindings ?? {}) as Record<string, { type: string; value: unknown }>;
    const wanted = (body.parameters as Record<string, unknown> | undefined)?.MULTI_STATEMENT_COUNT;
    return session.serial(async () => {
      let texts: string[];
      try {
        texts = splitStatements(sqlText);
      } catch (err) {
        return errorReply(err, newQueryId());
      }
      const count = wanted === undefined ? 1 : Number(wanted);
      if (texts.length > 1 || (count !== 1 && count !== 0)) {
        if (count !== 0 && texts.length !== count)
          return errorReply(
            new SnowflakeSqlError(
              '000008',
              '0A000',
              `Actual statement count ${texts.length} did not match the desired statement count ${count}.`,
            ),
            newQueryId(),
          );
        if (texts.length > 1) {
          const ids: string[] = [];
          for (const t of texts) {
            const r = await this.one(session, t, [], requestId);
            ids.push(String((r.data as { queryId?: string } | null)?.queryId ?? ''));
            if (!r.success) return r;
          }
          const parentId = newQueryId();
          return {
            success: true,
            code: null,
            message: null,
            data: {
              queryId: parentId,
              resultIds: ids.join(','),
              statementTypeId: 0x1000,
              version: 1,
              total: 1,
              returned: 1,
              queryResultFormat: 'json',
              rowtype: [{ name: 'multiple statement execution', type: 'text', nullable: false }],
              rowset: [['Multiple statements executed successfully.']],
              parameters: params(session),
            },
          };
        }
      }
      const keys = Object.keys(bindings).sort((a, b) => Number(a) - Number(b));
      const arrays = keys.some((k) => Array.isArray(bindings[k]!.value));
      if (!arrays) {
        const binds: Bind[] = keys.map((k) => ({
          type: bindings[k]!.type,
          value: toBindValue(bindings[k]!.value),
        }));
        return this.one(session, texts[0] ?? '', binds, requestId);
      }
      // Array binds: the statement runs once per row; DML counts add up.
      const rows = (bindings[keys[0]!]!.value as unknown[]).length;
      let last: Record<string, unknown> | undefined;
      let sums: number[] | undefined;
      for (let r = 0; r < rows; r++) {
        const binds = keys.map((k) => ({
          type: bindings[k]!.type,
          value: toBindValue((bindings[k]!.value as unknown[])[r]),
        }));
        last = await this.one(session, texts[0] ?? '', binds, `${requestId}#${r}`);
        if (!last.success) return last;
        const row = ((last.data as { rowset?: (string | null)[][] }).rowset ?? [])[0] ?? [];
        sums = row.map((v, i) => (sums?.[i] ?? 0) + Number(v ?? 0));
      }
      if (!last) return this.one(session, texts[0] ?? '', [], requestId);
      const data = last.data as Record<string, unknown>;
      return { ...last, data: { ...data, rowset: [sums!.map(String)] } };
    });
  }

  /** Runs one statement and builds its reply (success or Snowflake error). */
  private async one(
    session: Session,
    sql: string,
    binds: Bind[],
    requestId: string,
  ): Promise<Record<string, unknown>> {
    const queryId = newQueryId();
    const record: {
      sql: string;
      sessionId: number;
      requestId: string;
      queryId: string;
      errorCode?: string;
      at: Date;
      durationMs?: number;
    } = {
      sql,
      sessionId: session.id,
      requestId,
      queryId,
      at: new Date(),
    };
    this.ctx.statements.push(record);
    let result: StatementResult;
    try {
      result = await runStatement(this.ctx.engine, session, sql, binds, this.ctx.account);
      record.durationMs = Date.now() - record.at.getTime();
    } catch (err) {
      record.durationMs = Date.now() - record.at.getTime();
      const reply = errorReply(err, queryId);
      record.errorCode = String(reply.code);
      this.remember(queryId, reply);
      return reply;
    }
    session.lastQueryId = queryId;
    const data: Record<string, unknown> = result.upload
      ? { ...result.upload, queryId, rowtype: [], rowset: [], parameters: [] }
      : {
          queryId,
          statementTypeId: result.statementTypeId,
          version: 1,
          total: result.rowset.length,
          returned: result.rowset.length,
          queryResultFormat: 'json',
          rowtype: result.rowtype,
          rowset: result.rowset,
          parameters: params(session),
          finalDatabaseName: session.database,
          finalSchemaName: session.schema,
          finalWarehouseName: session.warehouse,
          finalRoleName: session.role,
        };
    const reply = { success: true, code: null, message: null, data };
    this.remember(queryId, reply);
    return reply;
  }

  private remember(queryId: string, reply: Record<string, unknown>): void {
    this.results.set(queryId, reply);
    if (this.results.size > 1_000) this.results.delete(this.results.keys().next().value!);
  }

  /** Ends every session. */
  async closeSessions(): Promise<void> {
    for (const s of [...this.sessions.values()]) await this.ctx.engine.closeSession(s).catch(() => {});
    this.sessions.clear();
    this.masters.clear();
  }
}

function toBindValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

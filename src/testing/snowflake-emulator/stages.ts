/**
 * Internal stages on the local disk: named stages (CREATE STAGE), table
 * stages (`@%T`) and the user stage (`@~`), each a directory under the
 * emulator's stage directory. PUT is answered with a `LOCAL_FS` location so
 * the driver copies the files there itself; LIST and REMOVE read and delete
 * them; COPY reads them.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { doesNotExist } from './errors.js';
import type { StageRef } from './sql/scanner.js';

/** A stage resolved to its identity and directory. */
export interface ResolvedStage {
  /** Display name, e.g. `DB.PUBLIC.MY_STAGE`, `%T`, `~`. */
  readonly display: string;
  /** Lower-case name LIST shows in front of each file. */
  readonly listPrefix: string;
  readonly dir: string;
  /** Path inside the stage the statement addressed (no leading slash). */
  readonly path: string;
}

/** A file in a stage. */
export interface StagedFile {
  /** Path relative to the stage directory, with `/`. */
  readonly rel: string;
  readonly abs: string;
  readonly size: number;
  readonly modified: Date;
}

function segment(name: string): string {
  return encodeURIComponent(name).replace(/\./g, '%2E');
}

export class StageStore {
  private readonly named = new Map<string, { temporary: boolean; session?: number }>();

  constructor(readonly root: string) {}

  private key(db: string, schema: string, name: string): string {
    return JSON.stringify([db, schema, name]);
  }

  /** Registers a named stage; returns false when it existed. */
  async create(
    db: string,
    schema: string,
    name: string,
    opts: { temporary: boolean; session: number; replace: boolean },
  ): Promise<boolean> {
    const key = this.key(db, schema, name);
    const dir = join(this.root, segment(db), segment(schema), segment(name));
    if (this.named.has(key) && !opts.replace) return false;
    if (opts.replace) await rm(dir, { recursive: true, force: true });
    this.named.set(key, { temporary: opts.temporary, session: opts.session });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return true;
  }

  /** Drops a named stage and its files; returns false when it did not exist. */
  async drop(db: string, schema: string, name: string): Promise<boolean> {
    const key = this.key(db, schema, name);
    if (!this.named.delete(key)) return false;
    await rm(join(this.root, segment(db), segment(schema), segment(name)), { recursive: true, force: true });
    return true;
  }

  /** Drops the temporary stages of a session that ended. */
  async dropTemporary(session: number): Promise<void> {
    for (const [key, s] of [...this.named]) {
      if (s.temporary && s.session === session) {
        const [db, schema, name] = JSON.parse(key) as [string, string, string];
        await this.drop(db, schema, name);
      }
    }
  }

  /** Named stages of a schema (SHOW STAGES). */
  list(
    db: string | undefined,
    schema: string | undefined,
  ): { db: string; schema: string; name: string; temporary: boolean }[] {
    return [...this.named].flatMap(([key, s]) => {
      const [d, sc, name] = JSON.parse(key) as [string, string, string];
      if ((db && d !== db) || (schema && sc !== schema)) return [];
      return [{ db: d, schema: sc, name, temporary: s.temporary }];
    });
  }

  /**
   * Resolves a stage reference against the current database and schema.
   * `tableExists` decides whether a table stage's table exists.
   */
  async resolve(
    ref: StageRef,
    current: { database: string | null; schema: string | null; user: string },
    tableExists: (db: string, schema: string, table: string) => Promise<boolean>,
  ): Promise<ResolvedStage> {
    if (ref.kind === 'user') {
      const dir = join(this.root, '~', segment(current.user));
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return { display: '~', listPrefix: '', dir, path: ref.path };
    }
    const p = ref.name.parts;
    const name = p.at(-1)!;
    const schema = p.length >= 2 ? p.at(-2)! : current.schema;
    const db = p.length >= 3 ? p.at(-3)! : current.database;
    if (!db || !schema) throw doesNotExist('Stage', p.join('.'));
    if (ref.kind === 'table') {
      if (!(await tableExists(db, schema, name))) throw doesNotExist('Table', `${db}.${schema}.${name}`);
      const dir = join(this.root, segment(db), segment(schema), `%25${segment(name)}`);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return { display: `%${name}`, listPrefix: '', dir, path: ref.path };
    }
    if (!this.named.has(this.key(db, schema, name))) throw doesNotExist('Stage', `${db}.${schema}.${name}`);
    return {
      display: `${db}.${schema}.${name}`,
      listPrefix: `${name.toLowerCase()}/`,
      dir: join(this.root, segment(db), segment(schema), segment(name)),
      path: ref.path,
    };
  }

  /** Files of a stage under its addressed path, optionally filtered by a regex on the relative path. */
  async files(stage: ResolvedStage, pattern?: string): Promise<StagedFile[]> {
    const out: StagedFile[] = [];
    const re = pattern === undefined ? undefined : new RegExp(`^(?:${pattern})$`);
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const abs = join(dir, e.name);
        if (e.isDirectory()) await walk(abs);
        else if (e.isFile()) {
          const rel = relative(stage.dir, abs).split(sep).join('/');
          if (!rel.startsWith(stage.path)) continue;
          if (re && !re.test(rel) && !re.test(`${stage.listPrefix}${rel}`)) continue;
          const st = await stat(abs);
          out.push({ rel, abs, size: st.size, modified: st.mtime });
        }
      }
    };
    await walk(stage.dir);
    return out.sort((a, b) => a.rel.localeCompare(b.rel));
  }

  /** MD5 of a staged file (LIST shows it; COPY's load history keys on it). */
  static async md5(file: StagedFile): Promise<string> {
    return createHash('md5')
      .update(await readFile(file.abs))
      .digest('hex');
  }
}

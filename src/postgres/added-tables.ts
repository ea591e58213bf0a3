import { binaryModeSupported } from '../arrow/column-codec.js';
import type { Checkpoint } from '../change/checkpoint.js';
import { configError, EtlError } from '../errors.js';
import type { PipelineEvents } from '../pipeline/pipeline-events.js';
import { noKeyError } from './backfill.js';
import { parseQualifiedName, type ResolvedPostgresOptions } from './postgres-options.js';
import { type CheckedTable, checkTables } from './preflight.js';
import { ensurePublication } from './publication.js';
import type { ReplicationPlan } from './replication-plan.js';
import type { Queryable } from './slot.js';
import { quoteTable } from './sql.js';

type Emit = <K extends keyof PipelineEvents>(type: K, payload: PipelineEvents[K]) => void;

const nameOf = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

/**
 * The tables to backfill when a pipeline resumes streaming from `resume`:
 * those whose backfill a previous run left unfinished, and those configured
 * since (not among the checkpoint's tables). None while the initial
 * snapshot runs (it copies every configured table) or without saved state.
 * A saved state without a table list (older versions) counts every table as known.
 */
export function backfillQueue(
  tables: readonly CheckedTable[],
  resume: Checkpoint | undefined,
  copy: boolean,
  emit: Emit,
): CheckedTable[] {
  if (!resume || resume.snapshot) return [];
  const known = resume.tables ? new Set(resume.tables) : undefined;
  const saved = resume.backfill?.tables ?? {};
  const queue = tables.filter((t) => nameOf(t) in saved || (known !== undefined && !known.has(nameOf(t))));
  if (copy) for (const t of queue) if (!t.hasKey) throw noKeyError(quoteTable(t));
  const configured = new Set(tables.map(nameOf));
  for (const name of Object.keys(saved)) {
    if (configured.has(name)) continue;
    emit('alert', {
      key: `backfill-dropped:${name}`,
      severity: 'warning',
      resolved: false,
      message: `The unfinished backfill of ${name} is abandoned: the table is no longer configured (add it to \`tables\` to stream it).`,
      details: { table: name },
    });
  }
  return queue;
}

/**
 * Checks tables to add to a running pipeline and makes the publication
 * carry them: names valid, tables exist and are readable, have a key (when
 * they are to be copied), and their column types decode in the stream's
 * mode. Returns the requested names (`schema.table`) and the tables not
 * streamed yet, with their catalog info loaded.
 */
export async function checkAddedTables(
  client: Queryable,
  plan: ReplicationPlan,
  o: ResolvedPostgresOptions,
  names: readonly string[],
  streamed: readonly CheckedTable[],
  emit: Emit,
): Promise<{ requested: string[]; added: CheckedTable[] }> {
  if (!Array.isArray(names) || names.length === 0) {
    throw configError('tables', 'addTables() needs a non-empty array of "schema.table" names');
  }
  const parsed = names.map((n, i) => {
    const t = typeof n === 'string' ? parseQualifiedName(n) : undefined;
    if (!t) {
      throw configError(
        `tables[${i}]`,
        `expected "schema.table", got ${JSON.stringify(n)}`,
        'Qualify every table with its schema, e.g. "public.orders".',
      );
    }
    return t;
  });
  const have = new Set(streamed.map(nameOf));
  const fresh = parsed.filter(
    (t, i) => !have.has(nameOf(t)) && parsed.findIndex((u) => nameOf(u) === nameOf(t)) === i,
  );
  const requested = [...new Set(parsed.map(nameOf))];
  if (fresh.length === 0) return { requested, added: [] };
  const checked = await checkTables(client, fresh, { appendOnly: o.appendOnly, emit });
  if (o.snapshot === 'initial') for (const t of checked) if (!t.hasKey) throw noKeyError(quoteTable(t));
  const infos = await plan.catalog.loadTables(
    client,
    checked.map((t) => t.oid),
  );
  if (plan.binary) {
    const textOnly = infos.filter((info) => !binaryModeSupported(info.columns, plan.catalog));
    if (textOnly.length > 0) {
      const list = textOnly.map((t) => quoteTable(t)).join(', ');
      throw new EtlError(
        'CONFIG_INVALID',
        `${list} has column types without a binary decoder, but the stream runs in binary mode`,
        {
          hint: "Add the table to `tables` and restart the pipeline (binary: 'auto' then picks text mode), or run with binary: false.",
          details: { tables: textOnly.map(nameOf) },
        },
      );
    }
  }
  await ensurePublication(client, {
    publication: plan.publication,
    tables: [...streamed, ...checked],
    create: false,
    addTables: o.addTablesToPublication,
  });
  return { requested, added: checked };
}

/** The demo's closing text: what was written, what streamed, and the verdict. */
import { matches, type TableComparison } from './compare.js';
import type { Meter } from './meter.js';
import { formatCount, formatMs } from './progress.js';
import type { WorkloadStats } from './workload.js';

export function summariseWorkload(s: WorkloadStats, ms: number): string {
  const total = s.inserts + s.updates + s.deletes;
  return (
    `Workload stopped after ${formatMs(ms)}: ${formatCount(s.transactions)} transactions, ${formatCount(total)} changes ` +
    `(${formatCount(s.inserts)} inserts, ${formatCount(s.updates)} updates, ${formatCount(s.deletes)} deletes), ` +
    `${s.schemaChanges.length} schema changes.`
  );
}

export function summariseStream(m: Meter, s: WorkloadStats): string {
  const written = s.inserts + s.updates + s.deletes;
  const all = m.changes === written ? ', every change the workload made' : '';
  return (
    `Streamed into DuckDB in ${formatCount(m.batches)} batches: ${formatCount(m.snapshot)} snapshot rows, then ` +
    `${formatCount(m.changes)} changes${all} (${formatCount(m.inserts)} inserts, ${formatCount(m.updates)} updates, ` +
    `${formatCount(m.deletes)} deletes). ${formatCount(m.toastKept)} of the updates left the TOASTed notes untouched ` +
    `(PostgreSQL does not resend them): DuckDB kept its value.`
  );
}

const shown = (v: string | null, max = 48) =>
  v === null ? 'NULL' : v.length > max ? `${v.slice(0, max - 3)}...` : v;

/** One table's line, and what differs (the first few examples). */
export function describeTable(c: TableComparison): string {
  const ok = matches(c);
  const counts =
    c.sourceRows === c.destinationRows
      ? `${formatCount(c.sourceRows).padStart(6)} rows × ${c.columns.length} columns`
      : `${formatCount(c.sourceRows)} rows in PostgreSQL, ${formatCount(c.destinationRows)} in DuckDB`;
  const notes = [
    ...(ok ? ['identical'] : []),
    ...(c.ignored.length ? [`${c.ignored.join(', ')} (dropped at the source) not compared`] : []),
  ];
  const lines = [
    `  ${ok ? '✔' : '✘'} ${c.table.padEnd(20)} ${counts}${notes.length ? `: ${notes.join('; ')}` : ''}`,
  ];
  const key = c.columns[0];
  if (ok && c.sample) {
    const values = c.sample.values.map(([name, v]) => `${name} ${shown(v, 30)}`).join(', ');
    lines.push(`      e.g. ${key}=${c.sample.key}, on both sides: ${values}`);
  }
  for (const m of c.mismatches.slice(0, 3)) {
    lines.push(
      `      ${key}=${m.key}: ${m.column} is ${shown(m.source)} in PostgreSQL, ${shown(m.destination)} in DuckDB`,
    );
  }
  if (c.mismatches.length > 3) lines.push(`      ... and ${c.mismatches.length - 3} more differing values`);
  const keys = (list: readonly string[]) =>
    `${key}=${list.slice(0, 5).join(', ')}${list.length > 5 ? `, ... (${list.length})` : ''}`;
  if (c.missing.length) lines.push(`      missing from DuckDB: ${keys(c.missing)}`);
  if (c.extra.length) lines.push(`      only in DuckDB (deleted at the source): ${keys(c.extra)}`);
  if (c.duplicates.length) lines.push(`      more than once in DuckDB: ${keys(c.duplicates)}`);
  return lines.join('\n');
}

/** The last word: `VERDICT: MATCH` or `VERDICT: MISMATCH`, with the numbers. */
export function verdictLine(results: readonly TableComparison[]): string {
  const rows = results.reduce((n, c) => n + c.sourceRows, 0);
  const values = results.reduce((n, c) => n + c.valuesCompared, 0);
  if (results.every(matches)) {
    return `VERDICT: MATCH. ${results.length} tables, ${formatCount(rows)} rows, ${formatCount(values)} values: DuckDB equals PostgreSQL.`;
  }
  const problems = results
    .filter((c) => !matches(c))
    .map((c) => {
      const parts = [
        c.differingRows && `${c.differingRows} ${c.differingRows === 1 ? 'row differs' : 'rows differ'}`,
        c.missing.length && `${c.missing.length} missing`,
        c.extra.length && `${c.extra.length} extra`,
        c.duplicates.length && `${c.duplicates.length} duplicated`,
      ].filter(Boolean);
      return `${c.table}: ${parts.join(', ')}`;
    });
  return `VERDICT: MISMATCH. ${problems.join('; ')}.`;
}

/**
 * The demo's live output: on a terminal, one status line redrawn in place
 * (with event lines printed above it); elsewhere (CI, a pipe, a log file),
 * a plain line every few seconds.
 */
import type { WriteStream } from 'node:tty';

/** What the status line shows. */
export interface ProgressSnapshot {
  /** Pipeline status or demo phase: `snapshotting`, `streaming`, `catching up`... */
  readonly phase: string;
  /** Rows made durable in DuckDB so far (snapshot and changes). */
  readonly rows: number;
  /** Batches made durable so far. */
  readonly batches: number;
  /** WAL between the server's current position and the slot's confirmed one; undefined before the slot exists. */
  readonly lagBytes: number | undefined;
  /** From the source commit of the last durable batch to its commit in DuckDB. */
  readonly lagMs: number | undefined;
}

const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
const TTY_REFRESH_MS = 200;
const PLAIN_EVERY_MS = 5_000;
/** Rows/s is measured over this window. */
const RATE_WINDOW_MS = 2_000;

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Wraps `text` to the terminal's width, continuing lines with `indent`
 * spaces. Not a terminal (a pipe, a log): returned as is.
 */
export function wrap(text: string, indent: number, out: NodeJS.WriteStream = process.stdout): string {
  if (!out.isTTY) return text;
  if (text.includes('\n'))
    return text
      .split('\n')
      .map((t) => wrap(t, indent, out))
      .join('\n');
  const width = Math.max(40, out.columns || 100) - 1;
  const lines: string[] = [];
  let line = text.match(/^ */)![0];
  for (const token of text.trimStart().match(/\S+\s*/g) ?? []) {
    if (line.trim() !== '' && line.trimEnd().length + token.trimEnd().length > width) {
      lines.push(line.trimEnd());
      line = ' '.repeat(indent);
    }
    line += token;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

/** The seconds since the demo started, right-aligned, as a prefix for event lines. */
export function stamp(startedAt: number): string {
  return `${((Date.now() - startedAt) / 1000).toFixed(1)}s`.padStart(6);
}

/**
 * Draws the status line. `read` is called at every refresh; `log` prints a
 * line above it (on a terminal) or as is (elsewhere).
 */
export class Progress {
  readonly #out: WriteStream | NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #read: () => ProgressSnapshot;
  readonly #startedAt: number;
  readonly #durationMs: number;
  #timer: NodeJS.Timeout | undefined;
  #frame = 0;
  #drawn = false;
  #lastPlainAt = 0;
  readonly #samples: { at: number; rows: number }[] = [];

  constructor(opts: {
    out: NodeJS.WriteStream;
    read: () => ProgressSnapshot;
    startedAt: number;
    durationMs: number;
  }) {
    this.#out = opts.out;
    this.#tty = opts.out.isTTY === true && process.env.TERM !== 'dumb';
    this.#read = opts.read;
    this.#startedAt = opts.startedAt;
    this.#durationMs = opts.durationMs;
  }

  /** Starts refreshing. */
  start(): void {
    this.#lastPlainAt = Date.now();
    this.#timer = setInterval(() => this.#tick(), TTY_REFRESH_MS);
  }

  /** Prints an event line (above the status line on a terminal). */
  log(line: string): void {
    this.#clear();
    this.#write(`${line}\n`);
    this.#draw();
  }

  /** Stops refreshing and clears the status line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clear();
  }

  #tick(): void {
    const now = Date.now();
    const rows = this.#read().rows;
    this.#samples.push({ at: now, rows });
    while (this.#samples.length > 2 && this.#samples[0]!.at < now - RATE_WINDOW_MS) this.#samples.shift();
    if (this.#tty) {
      this.#frame++;
      this.#draw();
    } else if (now - this.#lastPlainAt >= PLAIN_EVERY_MS) {
      this.#lastPlainAt = now;
      this.#write(`${this.#line(false)}\n`);
    }
  }

  #rate(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.at === first.at) return 0;
    return ((last.rows - first.rows) * 1000) / (last.at - first.at);
  }

  #line(live: boolean): string {
    const s = this.#read();
    const elapsed = Math.min(Date.now() - this.#startedAt, this.#durationMs) / 1000;
    const lag =
      s.lagBytes === undefined
        ? 'lag –'
        : `lag ${formatBytes(s.lagBytes)}${s.lagMs === undefined ? '' : `, ${formatMs(s.lagMs)}`}`;
    const parts = [
      `${s.phase} ${elapsed.toFixed(0)}s/${(this.#durationMs / 1000).toFixed(0)}s`,
      `${formatCount(this.#rate())} rows/s`,
      lag,
      `${formatCount(s.batches)} batches`,
      `${formatCount(s.rows)} rows durable`,
    ];
    const prefix = live ? `${SPINNER[this.#frame % SPINNER.length]} ` : `${stamp(this.#startedAt)}  `;
    return prefix + parts.join(' · ');
  }

  #draw(): void {
    if (!this.#tty || !this.#timer) return;
    const width = (this.#out as WriteStream).columns || 100;
    this.#write(`\r${this.#line(true).slice(0, width - 1)}\x1b[K`);
    this.#drawn = true;
  }

  /** Writes unless the reader went away (a closed pipe). */
  #write(text: string): void {
    if (this.#out.writable) this.#out.write(text);
  }

  #clear(): void {
    if (!this.#drawn) return;
    this.#write('\r\x1b[K');
    this.#drawn = false;
  }
}

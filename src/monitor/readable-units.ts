/** Byte counts and durations as people read them, for alert and health messages (metrics keep raw numbers). */

/**
 * `52.4 MB`: for messages only; metrics and details keep exact byte counts.
 *
 * @example
 * ```ts
 * formatBytes(54_945_792n); // '52.4 MB'
 * ```
 */
export function formatBytes(bytes: bigint | number): string {
  let n = Number(bytes);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (Math.abs(n) >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}

/**
 * `2h 5m`, `3m 12s`, `850 ms`.
 *
 * @example
 * ```ts
 * formatDuration(192_000); // '3m 12s'
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

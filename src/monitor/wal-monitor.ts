import { EtlError, toEtlError } from '../errors.js';
import type { AlertEvent } from '../pipeline/pipeline-events.js';
import { AlertLedger } from './alert-ledger.js';
import type { Monitor, MonitorContext, PipelineView } from './monitor.js';
import { SharedRun } from './shared-run.js';
import { LOST_SLOT_RECOVERY, slotAlertKey, slotConditions, slotResolvedMessage } from './slot-conditions.js';
import { SlotProbe, serverLabel } from './slot-probe.js';
import type { SlotReading } from './slot-reading.js';
import { Waker } from './waker.js';
import { WalClock } from './wal-clock.js';
import {
  type ResolvedWalMonitorOptions,
  resolveWalMonitorOptions,
  type WalMonitorOptions,
} from './wal-monitor-options.js';

/** The outcome of one check of one server. */
export type ServerCheck =
  | {
      readonly server: string;
      readonly ok: true;
      readonly slots: readonly SlotReading[];
      readonly missing: readonly string[];
      readonly durationMs: number;
    }
  | { readonly server: string; readonly ok: false; readonly error: EtlError; readonly durationMs: number };

/**
 * Watches replication slots on one or many PostgreSQL servers: lag in bytes
 * (exact, from `pg_wal_lsn_diff` against the WAL head), lag in time,
 * `wal_status`, `safe_wal_size`, activity and, on PostgreSQL 17+,
 * `inactive_since` and `invalidation_reason`.
 *
 * Contract: while at least one pipeline runs it, every server is checked in
 * its own loop, every `intervalMs`, each check bounded by `timeoutMs`, so a
 * slow or unreachable server never delays the others. Each check emits a
 * `lag` event per logical slot, and raises or resolves `alert`s (lag bytes,
 * lag time, `wal_status` not `reserved`, inactive, lost, missing, server
 * unreachable) only when they change. Events about a pipeline's own slot go to
 * that pipeline; others to the first pipeline the monitor was added to. A lost
 * slot of a pipeline stops it under `onLost: 'fail'`. One monitor may be
 * added to several pipelines: servers are still checked once. `run` resolves
 * once the last pipeline stops, with every connection closed and no timer left.
 *
 * @example
 * ```ts
 * const wal = walMonitor({
 *   targets: [{ connectionString: process.env.DATABASE_URL!, slots: ['orders'] }],
 *   thresholds: { lagBytes: 512 * 1024 ** 2, lagMs: 60_000 },
 * });
 * pipeline.monitor(wal);
 * pipeline.on('alert', (a) => console.log(a.severity, a.message));
 * ```
 */
export class WalMonitor implements Monitor {
  readonly name = 'wal';
  private readonly options: ResolvedWalMonitorOptions;
  private readonly shared = new SharedRun((signal) => this.supervise(signal));
  private readonly latest = new Map<string, SlotReading>();
  private readonly clocks = new Map<string, WalClock>();
  private readonly inactiveSince = new Map<string, number>();
  private readonly ledger = new AlertLedger();
  /** Where each active alert was emitted, so its resolution goes to the same pipeline. */
  private readonly alertRoutes = new Map<string, MonitorContext>();
  private readonly failedSlots = new WeakMap<MonitorContext, Set<string>>();
  /**
   * What to read, per server (`host:port`: slots are server-wide, so one
   * connection per server, the first connection string given for it).
   * `slots` undefined means every slot. Recomputed each interval and when a
   * pipeline joins.
   */
  private plan = new Map<string, PlannedServer>();
  /** Wakes the supervisor to recompute the plan. */
  private readonly replan = new Waker();

  constructor(options: WalMonitorOptions = {}) {
    this.options = resolveWalMonitorOptions(options);
  }

  /** Watches until `ctx.signal` aborts (see the class contract). */
  run(ctx: MonitorContext): Promise<void> {
    const attached = this.shared.attach(ctx);
    this.replan.now(); // a pipeline joining a running monitor gets its slot checked at once
    return attached;
  }

  /** The latest reading of every slot seen, in no particular order. */
  readings(): SlotReading[] {
    return [...this.latest.values()];
  }

  /**
   * Checks every configured target once, now, concurrently, each within
   * `timeoutMs`, on connections of its own; emits nothing. For one-off checks
   * and scripts: resolves with one entry per target, failures included.
   */
  async check(opts: { readonly signal?: AbortSignal } = {}): Promise<ServerCheck[]> {
    return Promise.all(
      this.options.targets.map(async (t) => {
        const probe = new SlotProbe(t.connectionString);
        try {
          return await this.read(probe, t.slots, opts.signal);
        } finally {
          await probe.close();
        }
      }),
    );
  }

  /** Keeps one loop per server in the current plan, until `signal` aborts. */
  private async supervise(signal: AbortSignal): Promise<void> {
    const loops = new Map<string, { controller: AbortController; done: Promise<void>; wake: Waker }>();
    try {
      while (!signal.aborted) {
        const previous = this.plan;
        this.plan = this.makePlan();
        for (const [server, planned] of this.plan) {
          const loop = loops.get(server);
          if (loop) {
            if (!sameSlots(previous.get(server)?.slots, planned.slots)) loop.wake.now(); // new slots: check now
            continue;
          }
          const controller = new AbortController();
          const wake = new Waker();
          const done = this.serverLoop(server, planned.connectionString, controller.signal, wake);
          loops.set(server, { controller, wake, done });
        }
        for (const [server, loop] of loops) {
          if (this.plan.has(server)) continue;
          loop.controller.abort();
          await loop.done;
          loops.delete(server);
        }
        await this.replan.nap(this.options.intervalMs, signal);
      }
    } finally {
      for (const loop of loops.values()) loop.controller.abort();
      await Promise.all([...loops.values()].map((l) => l.done));
    }
  }

  /** Configured targets plus the slots of attached pipelines, by connection string. */
  private makePlan(): Map<string, PlannedServer> {
    const plan = new Map<string, PlannedServer>();
    const add = (connectionString: string, slots: readonly string[] | undefined) => {
      const server = serverLabel(connectionString);
      const current = plan.get(server);
      if (current && current.slots === undefined) return; // already every slot
      plan.set(server, {
        connectionString: current?.connectionString ?? connectionString,
        slots: slots === undefined ? undefined : new Set([...(current?.slots ?? []), ...slots]),
      });
    };
    for (const t of this.options.targets) add(t.connectionString, t.slots);
    for (const ctx of this.shared.contexts) {
      for (const p of ctx.pipelines()) if (p.slot) add(p.slot.connectionString, [p.slot.name]);
    }
    return plan;
  }

  private async serverLoop(
    server: string,
    connectionString: string,
    signal: AbortSignal,
    wake: Waker,
  ): Promise<void> {
    const probe = new SlotProbe(connectionString);
    try {
      while (!signal.aborted) {
        const started = Date.now();
        const slots = this.plan.get(server)?.slots;
        const result = await this.read(probe, slots && [...slots], signal);
        if (signal.aborted) break;
        this.apply(result);
        await wake.nap(Math.max(0, this.options.intervalMs - (Date.now() - started)), signal);
      }
    } finally {
      await probe.close();
    }
  }

  private async read(
    probe: SlotProbe,
    slots: readonly string[] | undefined,
    signal?: AbortSignal,
  ): Promise<ServerCheck> {
    const started = Date.now();
    try {
      const readings = await probe.read(slots, {
        timeoutMs: this.options.timeoutMs,
        ...(signal ? { signal } : {}),
      });
      const found = new Set(readings.map((r) => r.slot));
      const missing = (slots ?? []).filter((s) => !found.has(s));
      return { server: probe.server, ok: true, slots: readings, missing, durationMs: Date.now() - started };
    } catch (err) {
      return {
        server: probe.server,
        ok: false,
        error: toEtlError(err, 'CONNECTION'),
        durationMs: Date.now() - started,
      };
    }
  }

  /** Records a check's outcome, emits lag events and reconciles this server's alerts. */
  private apply(check: ServerCheck): void {
    const { server } = check;
    const unreachableKey = `wal:${server}:unreachable`;
    if (!check.ok) {
      this.raise(
        {
          key: unreachableKey,
          severity: 'warning',
          resolved: false,
          message: `Cannot check replication slots on ${server}: ${check.error.message}. Lag and slot state there are unknown until it answers.`,
          details: { server, code: check.error.code },
        },
        this.ownerOf(server, undefined),
      );
      return;
    }
    const desired: { alert: AlertEvent; ctx: MonitorContext | undefined }[] = [];
    const clock = this.clocks.get(server) ?? new WalClock();
    this.clocks.set(server, clock);
    const head = check.slots.find((r) => r.currentLsn !== undefined);
    if (head?.currentLsn !== undefined) clock.sample(head.currentLsn, head.checkedAt);
    for (const r of check.slots) {
      const id = `${server}/${r.slot}`;
      this.latest.set(id, r);
      if (r.active) this.inactiveSince.delete(id);
      else if (!this.inactiveSince.has(id)) this.inactiveSince.set(id, r.checkedAt);
      const since = this.inactiveSince.get(id);
      const inactiveForMs = r.active
        ? undefined
        : (r.inactiveMs ?? (since === undefined ? 0 : r.checkedAt - since));
      const lagMs =
        r.lagBytes === 0n
          ? 0
          : r.confirmedFlushLsn === undefined
            ? undefined
            : clock.ageMs(r.confirmedFlushLsn, r.checkedAt);
      const owner = this.ownerOf(server, r.slot);
      if (r.type === 'logical' && r.lagBytes !== undefined) {
        this.target(owner)?.emit('lag', {
          slot: r.slot,
          bytes: r.lagBytes,
          ...(lagMs === undefined ? {} : { ms: lagMs }),
        });
      }
      // A source that rebuilds from a new slot by itself (onSlotLost: 'resnapshot') is not stopped.
      const rebuilds =
        owner?.pipelines().some((p) => p.slot?.name === r.slot && p.slot.onLost === 'resnapshot') ?? false;
      for (const alert of slotConditions(
        { reading: r, lagMs, inactiveForMs },
        this.options.thresholds,
        rebuilds ? 'resnapshot' : this.options.onLost,
      )) {
        desired.push({ alert, ctx: owner });
      }
      if (r.lost && owner && !rebuilds) this.failOnLost(owner, r);
    }
    for (const slot of check.missing) {
      this.latest.delete(`${server}/${slot}`);
      const owner = this.ownerOf(server, slot);
      desired.push({
        ctx: owner,
        alert: {
          key: slotAlertKey(server, slot, 'missing'),
          severity: owner ? 'critical' : 'warning',
          resolved: false,
          message: `Replication slot "${slot}" does not exist on ${server}${owner ? ': the pipeline reading it cannot resume where it stopped' : ''}. Was it dropped?`,
          details: { server, slot },
        },
      });
    }
    const wanted = new Set(desired.map((d) => d.alert.key));
    for (const active of this.ledger.list(`wal:${server}:`)) {
      const key = active.alert.key;
      if (wanted.has(key)) continue;
      const notice = this.ledger.resolve(
        key,
        slotResolvedMessage(key, server, check.slots),
        active.alert.details,
      );
      const ctx = this.alertRoutes.get(key);
      this.alertRoutes.delete(key);
      if (notice) this.target(ctx)?.emit('alert', notice);
    }
    for (const d of desired) this.raise(d.alert, d.ctx);
  }

  private raise(alert: AlertEvent, owner: MonitorContext | undefined): void {
    const pass = this.ledger.raise(alert);
    if (!pass) return;
    const ctx = this.target(owner);
    if (ctx) this.alertRoutes.set(alert.key, ctx);
    ctx?.emit('alert', pass);
  }

  /** Under `onLost: 'fail'`, stops the pipeline reading a lost slot (once per slot). */
  private failOnLost(ctx: MonitorContext, r: SlotReading): void {
    if (this.options.onLost !== 'fail') return;
    const done = this.failedSlots.get(ctx) ?? new Set<string>();
    this.failedSlots.set(ctx, done);
    if (done.has(r.slot)) return;
    done.add(r.slot);
    const error = new EtlError(
      'PG_SLOT_INVALID',
      `Replication slot "${r.slot}" on ${r.server} was invalidated (${r.invalidationReason ?? 'wal_status lost'})`,
      {
        hint: `The WAL the slot needed was removed. ${LOST_SLOT_RECOVERY} Raise max_slot_wal_keep_size or alert on lag earlier to avoid this.`,
        details: { server: r.server, slot: r.slot, invalidationReason: r.invalidationReason ?? null },
      },
    );
    if (ctx.fail) ctx.fail(error);
    else ctx.emit('error', { error, fatal: false, component: `monitor:${this.name}` });
  }

  /** The attached context whose pipeline reads `slot` on `server` (by `PipelineView.slot`, else by pipeline name). */
  private ownerOf(server: string, slot: string | undefined): MonitorContext | undefined {
    const owns = (p: PipelineView) =>
      p.slot
        ? serverLabel(p.slot.connectionString) === server && (slot === undefined || p.slot.name === slot)
        : slot !== undefined && p.name === slot;
    return this.shared.contexts.find((ctx) => ctx.pipelines().some(owns));
  }

  /** `ctx` when still attached, else the first attached context. */
  private target(ctx: MonitorContext | undefined): MonitorContext | undefined {
    const attached = this.shared.contexts;
    return ctx && attached.includes(ctx) ? ctx : attached[0];
  }
}

/** One server in the monitor's plan. */
interface PlannedServer {
  readonly connectionString: string;
  readonly slots: Set<string> | undefined;
}

function sameSlots(a: Set<string> | undefined, b: Set<string> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && [...a].every((s) => b.has(s));
}

/**
 * Creates a {@link WalMonitor}. Options are validated here, naming the field.
 *
 * @example
 * ```ts
 * pipeline.monitor(walMonitor({ thresholds: { lagBytes: 256 * 1024 ** 2 }, onLost: 'report' }));
 * ```
 */
export function walMonitor(options: WalMonitorOptions = {}): WalMonitor {
  return new WalMonitor(options);
}

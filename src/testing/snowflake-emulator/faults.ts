/**
 * Fault injection for the emulator's HTTP endpoints: added latency, HTTP
 * error statuses (5xx, 429), hung requests, connections dropped (before the
 * statement runs, or after it ran, mid-response), and Snowflake errors — each
 * aimed at the Nth request whose statement matches a pattern.
 *
 * Counting follows the driver's retries: a rule counts distinct statements
 * (requestIds) to find its Nth, then hits `times` consecutive attempts from
 * there, retries of the same requestId included.
 */

/** What happens to a request a rule hits. */
export type FaultAction =
  /** Wait this long, then handle the request normally. */
  | { readonly kind: 'latency'; readonly ms: number }
  /** Answer with this HTTP status without running anything (5xx and 429 make the driver retry). */
  | { readonly kind: 'http-status'; readonly status: number }
  /** Never answer (until {@link EmulatorFaults.releaseHung} or close); nothing runs. */
  | { readonly kind: 'hang' }
  /** Close the connection without an answer; nothing runs. */
  | { readonly kind: 'drop' }
  /** Run the statement, then send half the reply and close the connection. */
  | { readonly kind: 'drop-after-apply' }
  /** Run the statement, then never answer. */
  | { readonly kind: 'hang-after-apply' }
  /** Run the statement, then answer with a Snowflake error (the client cannot tell it was applied). */
  | {
      readonly kind: 'error-after-apply';
      readonly code?: string;
      readonly sqlState?: string;
      readonly message?: string;
    }
  /** Answer with a Snowflake error without running anything. */
  | { readonly kind: 'error'; readonly code?: string; readonly sqlState?: string; readonly message?: string };

/** A fault rule. */
export interface FaultRule {
  /** Which endpoint: statements (default), logins, heartbeats, or any request. */
  readonly on?: 'query' | 'login' | 'heartbeat' | 'any';
  /**
   * Statement filter: a RegExp, a substring matched case-insensitively, or a
   * predicate (called once per attempt). Default: every statement.
   */
  readonly match?: RegExp | string | ((sql: string) => boolean);
  /** Hit the Nth matching statement (1-based). Default 1. */
  readonly nth?: number;
  /** Attempts hit from the Nth on (retries included). Default 1; `Infinity` for always. */
  readonly times?: number;
  readonly action: FaultAction;
}

/** A rule once added. */
export interface ActiveFault {
  readonly rule: FaultRule;
  /** Attempts hit so far. */
  readonly hits: number;
  /** Stops the rule. */
  remove(): void;
}

/** One incoming request, as fault rules see it. */
export interface FaultProbe {
  readonly endpoint: 'query' | 'login' | 'heartbeat' | 'other';
  readonly requestId: string;
  readonly sql?: string;
}

class Rule implements ActiveFault {
  hits = 0;
  private matched = 0;
  private readonly seen = new Set<string>();
  constructor(
    readonly rule: FaultRule,
    readonly remove: () => void,
  ) {}

  take(p: FaultProbe): FaultAction | undefined {
    const on = this.rule.on ?? 'query';
    if (on !== 'any' && on !== p.endpoint) return undefined;
    const m = this.rule.match;
    if (m !== undefined) {
      const sql = p.sql ?? '';
      const hit =
        typeof m === 'string'
          ? sql.toLowerCase().includes(m.toLowerCase())
          : m instanceof RegExp
            ? m.test(sql)
            : m(sql);
      if (!hit) return undefined;
    }
    if (!this.seen.has(p.requestId)) {
      this.seen.add(p.requestId);
      this.matched++;
    }
    if (this.matched < (this.rule.nth ?? 1) || this.hits >= (this.rule.times ?? 1)) return undefined;
    this.hits++;
    return this.rule.action;
  }
}

/** The fault API of a running emulator. */
export class EmulatorFaults {
  /** Latency added to every request (ms). */
  latencyMs = 0;
  private rules: Rule[] = [];
  private readonly hung = new Set<() => void>();

  /** Adds a rule; rules are checked in the order added, the first that hits wins. */
  add(rule: FaultRule): ActiveFault {
    const r: Rule = new Rule(rule, () => {
      this.rules = this.rules.filter((x) => x !== r);
    });
    this.rules.push(r);
    return r;
  }

  /** Removes every rule and the added latency (hung requests stay hung: see {@link releaseHung}). */
  clear(): void {
    this.rules = [];
    this.latencyMs = 0;
  }

  /** Closes the connections of every hung request (the driver sees a network error and retries). */
  releaseHung(): number {
    const n = this.hung.size;
    for (const end of [...this.hung]) end();
    this.hung.clear();
    return n;
  }

  /** Number of requests hanging now. */
  get hanging(): number {
    return this.hung.size;
  }

  /** @internal */
  pick(probe: FaultProbe): FaultAction | undefined {
    for (const r of this.rules) {
      const a = r.take(probe);
      if (a) return a;
    }
    return undefined;
  }

  /** @internal Registers a hung request's terminator. */
  hold(end: () => void): () => void {
    this.hung.add(end);
    return () => this.hung.delete(end);
  }
}

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isAbort, sleep } from '../async/abortable-sleep.js';
import { Backoff } from '../async/backoff.js';
import { configError, EtlError, toEtlError } from '../errors.js';
import { withDeadline } from './deadline.js';

/** Where and how alerts are POSTed. */
export interface WebhookOptions {
  /** `http:` or `https:` URL receiving a JSON body per alert. Kept out of every message and event (it may hold a token). */
  readonly url: string;
  /** Extra request headers (e.g. `authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Longest wait for one attempt. */
  readonly timeoutMs?: number;
  /** Attempts per alert; network errors, 429 and 5xx are retried with backoff. */
  readonly attempts?: number;
}

/** Chat and incident services answer in well under a second; 5 s is one that is struggling. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5_000;
/** Three attempts ride out a restart of the receiver without delaying later alerts for long. */
export const DEFAULT_WEBHOOK_ATTEMPTS = 3;
/** First retry after half a second; backoff doubles from there. */
const RETRY_INITIAL_DELAY_MS = 500;

/**
 * POSTs JSON to one URL. Each attempt has its own time limit and a fresh
 * connection (no keep-alive socket outlives a delivery, so nothing keeps the
 * process alive); failures that may pass are retried with jittered backoff.
 * Errors name the host, never the full URL.
 *
 * @example
 * ```ts
 * const hook = new Webhook({ url: 'https://hooks.example.com/T000/B000', timeoutMs: 3_000 });
 * await hook.post({ text: 'hello' }, { signal });
 * ```
 */
export class Webhook {
  readonly timeoutMs: number;
  private readonly url: URL;
  private readonly attempts: number;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(options: WebhookOptions, field = 'webhook') {
    if (!options || typeof options.url !== 'string')
      throw configError(`${field}.url`, 'expected a URL string');
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw configError(`${field}.url`, 'is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw configError(`${field}.url`, `must be http: or https:, got ${url.protocol}`);
    }
    this.url = url;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    if (!(Number.isFinite(this.timeoutMs) && this.timeoutMs > 0)) {
      throw configError(
        `${field}.timeoutMs`,
        `must be a finite number > 0, got ${String(options.timeoutMs)}`,
      );
    }
    this.attempts = options.attempts ?? DEFAULT_WEBHOOK_ATTEMPTS;
    if (!(Number.isInteger(this.attempts) && this.attempts > 0)) {
      throw configError(`${field}.attempts`, `must be a positive integer, got ${String(options.attempts)}`);
    }
    this.headers = options.headers ?? {};
  }

  /** Resolves once the receiver answered 2xx; rejects after the last failed attempt or when `signal` aborts. */
  async post(body: unknown, opts: { readonly signal: AbortSignal }): Promise<void> {
    const payload = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const backoff = new Backoff({ initialDelayMs: RETRY_INITIAL_DELAY_MS });
    for (let attempt = 1; ; attempt++) {
      try {
        await withDeadline((signal) => this.once(payload, signal), {
          timeoutMs: this.timeoutMs,
          signal: opts.signal,
          what: `Webhook ${this.url.host}`,
        });
        return;
      } catch (err) {
        const error = toEtlError(err, 'CONNECTION');
        if (isAbort(error) || !error.retryable || attempt >= this.attempts) throw error;
        await sleep(backoff.next(), opts.signal);
      }
    }
  }

  private once(payload: string, signal: AbortSignal): Promise<void> {
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST',
        agent: false,
        signal,
        headers: {
          ...this.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      });
      req.on('response', (res) => {
        res.resume(); // the body is not needed; drain it so the socket closes
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else {
          reject(
            new EtlError('CONNECTION', `Webhook ${this.url.host} answered HTTP ${status}`, {
              retryable: status === 429 || status >= 500,
              hint: 'Check the webhook URL and headers (a 4xx is not retried).',
              details: { status },
            }),
          );
        }
      });
      req.on('error', (err) =>
        reject(toEtlError(err, 'CONNECTION', `Webhook ${this.url.host} failed: ${err.message}`)),
      );
      req.end(payload);
    });
  }
}

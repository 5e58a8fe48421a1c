/**
 * A lighter OpenTelemetry `Context` for what a server holds per open subscription.
 * @module
 */
import type { Context } from '@opentelemetry/api';

const DELETED = Symbol('deleted');
/** The key of the link that turns any context into a chained one; never read. */
const ANCHOR = Symbol('chained context anchor');

/**
 * A context as a chain of single changes over a parent context. The API's `BaseContext`
 * copies its whole Map on every change and gives each instance three closures (about 400
 * bytes); a subscription holds a few contexts for as long as it is open, and a server holds
 * tens of thousands of subscriptions. Reads walk the chain (a handful of links), and every
 * context derived from this one (`setValue`, `deleteValue`, the SDK's `trace.setSpan`) is
 * chained too.
 */
export class ChainedContext implements Context {
  readonly #parent: Context;
  readonly #key: symbol;
  readonly #value: unknown;

  private constructor(parent: Context, key: symbol, value: unknown) {
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
  }

  /** `ctx` itself when chained, else a chained context with the same values. */
  static from(ctx: Context): ChainedContext {
    return ctx instanceof ChainedContext ? ctx : new ChainedContext(ctx, ANCHOR, undefined);
  }

  getValue(key: symbol): unknown {
    if (this.#key === key) return this.#value === DELETED ? undefined : this.#value;
    let c = this.#parent;
    while (c instanceof ChainedContext) {
      if (c.#key === key) return c.#value === DELETED ? undefined : c.#value;
      c = c.#parent;
    }
    return c.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return new ChainedContext(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return new ChainedContext(this, key, DELETED);
  }
}

/**
 * Profiling aid: wraps a better-sqlite3 connection's prepare() so every statement's run/get/all/iterate
 * time is summed per SQL text. CPU profiles attribute SQLite's native time to the JS caller only;
 * this names the statement. Used by `--profile import|analyze`.
 */
import type { Db } from '../src/store/db.js';

export interface SqlTiming {
  sql: string;
  calls: number;
  ms: number;
}

const timed = new Set(['run', 'get', 'all', 'iterate']);

export function instrumentSql(db: Db): () => SqlTiming[] {
  const totals = new Map<string, SqlTiming>();
  const original = db.prepare.bind(db);
  const entry = (sql: string): SqlTiming => {
    const key = sql.replace(/\s+/g, ' ').trim();
    let t = totals.get(key);
    if (!t) {
      t = { sql: key, calls: 0, ms: 0 };
      totals.set(key, t);
    }
    return t;
  };
  (db as { prepare: unknown }).prepare = (sql: string) => {
    const stmt = original(sql);
    const t = entry(sql);
    return new Proxy(stmt, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        if (!timed.has(String(prop))) {
          return (...args: unknown[]) => {
            const out = value.apply(target, args);
            // pluck(), raw(), expand() etc. return the statement itself: keep it wrapped.
            return out === target ? receiver : out;
          };
        }
        if (prop === 'iterate') {
          return (...args: unknown[]) => {
            const it = value.apply(target, args) as IterableIterator<unknown>;
            t.calls++;
            return {
              [Symbol.iterator]() {
                return this;
              },
              next() {
                const t0 = performance.now();
                const r = it.next();
                t.ms += performance.now() - t0;
                return r;
              },
              return(v?: unknown) {
                return it.return ? it.return(v) : { done: true, value: v };
              },
            };
          };
        }
        return (...args: unknown[]) => {
          const t0 = performance.now();
          try {
            return value.apply(target, args);
          } finally {
            t.ms += performance.now() - t0;
            t.calls++;
          }
        };
      },
    });
  };
  return () => [...totals.values()].sort((a, b) => b.ms - a.ms);
}

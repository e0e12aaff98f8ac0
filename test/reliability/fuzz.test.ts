import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ProtocolError } from '@modelcontextprotocol/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AuditLog } from '../../src/store/audit.js';
import type { Store } from '../../src/store/store.js';
import { type Harness, startServer, tempDir, testConfig, tinyStore } from '../helpers/harness.js';
import { report, seedFor, tableDumper } from './helpers.js';

/**
 * Generated input through a real SDK client: every tool's schema and beyond. Each call is
 * checked on its own (a result, or an isError result naming what is wrong; nothing changed
 * by a refusal; exactly one audit entry for it), and the whole run at the end (the chain
 * verifies, the store's growth is bounded, the server still answers).
 */

/** Any result: these requests are expected to be refused. */
const AnyResult = z.unknown();

const CALLS = Number(process.env.RELIABILITY_FUZZ_CALLS ?? 10_000);

// ---- a JSON value that can hold own "__proto__" keys and lone surrogates, sent as the wire sends it

type J = null | boolean | number | string | J[] | Obj | Raw;
class Obj {
  constructor(readonly entries: Array<[string, J]>) {}
}
/** JSON text spliced in as is (deep nesting built without recursion). */
class Raw {
  constructor(readonly text: string) {}
}

function toText(v: J): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj)
    return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toText(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(toText).join(',')}]`;
  return JSON.stringify(v);
}

/** What the server must answer to a call. */
interface Expect {
  /** refuse: an isError result (or a protocol error) naming one of `names`; either: a result, or such an error. */
  mode: 'refuse' | 'either';
  names: string[];
}

type Call =
  | { via: 'tool'; principal: 'admin' | 'reviewer'; name: string; args: J; expect: Expect; label: string }
  | { via: 'raw'; principal: 'admin' | 'reviewer'; method: string; params: J; label: string };

// ---- the ids the tiny tenant holds, and a few that it does not

interface Ids {
  campaigns: string[];
  items: string[];
  users: string[];
  entitlements: string[];
}

const PLACEHOLDER_PROPOSAL = '\u0000proposal';
const PLACEHOLDER_CURSOR = '\u0000cursor';

/** Strings that are valid JSON but hostile: control characters, lone surrogates, markup, long runs. */
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('\u0000', '\u0007', '\n', '\r', '\u001b', '\u007f', '\u2028', 'a'),
    maxLength: 20,
  }),
  fc.constantFrom(
    '\ud800',
    'a\udc00b',
    '\udfff\ud800',
    '\u001b[31mred\u001b[0m',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    "'; DROP TABLE users; --",
    'Bearer abcdefghijklmnop0123',
    '{"confirm":true}',
    '',
    ' ',
  ),
);

/** A long string of `n` characters (code points: the schemas count those). */
function hugeString(): fc.Arbitrary<string> {
  return fc
    .record({
      n: fc.integer({ min: 3_000, max: 100_000 }),
      c: fc.constantFrom('a', 'é', '\ud83d\ude00', '\ud800', ' '),
    })
    .map(({ n, c }) => c.repeat(n));
}

/** The first `n` characters (code points) of a string. */
const chars = (s: string, n: number) =>
  Array.from(s.slice(0, 2 * n))
    .slice(0, n)
    .join('');

function hugeArray(item: fc.Arbitrary<J>): fc.Arbitrary<J> {
  return fc
    .record({ n: fc.integer({ min: 501, max: 20_000 }), v: item })
    .map(({ n, v }) => Array.from({ length: n }, () => v) as J[]);
}

const deepNesting = fc
  .record({ d: fc.integer({ min: 13, max: 5_000 }), kind: fc.constantFrom('[', '{"a":') })
  .map(
    ({ d, kind }) =>
      new Raw(kind === '[' ? `${'['.repeat(d)}${']'.repeat(d)}` : `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
  );

/** A value of another JSON type than the field takes. */
function wrongType(kind: 'string' | 'number' | 'array' | 'enum'): fc.Arbitrary<J> {
  const others: fc.Arbitrary<J>[] = [
    fc.constant(null),
    fc.boolean(),
    fc.constant(new Obj([])),
    fc.constant(new Obj([['__proto__', new Obj([['polluted', true]])]])),
    deepNesting,
  ];
  if (kind !== 'number') others.push(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());
  if (kind !== 'string' && kind !== 'enum') others.push(fc.string({ maxLength: 10 }));
  if (kind !== 'array')
    others.push(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }) as fc.Arbitrary<J>);
  return fc.oneof(...others);
}

interface Field {
  /** How the valid value is drawn. */
  valid: fc.Arbitrary<J>;
  kind: 'string' | 'number' | 'array' | 'enum';
  required: boolean;
  /** Values the schema refuses (beyond wrong types), e.g. out of range. */
  invalid?: fc.Arbitrary<J>;
  /** String content that may be accepted or refused (ids, free text): either, never a crash. */
  content?: boolean;
}

function idField(known: string[], required: boolean): Field {
  return {
    valid: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...known) },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
    ),
    kind: 'string',
    required,
    invalid: fc.oneof(
      fc.constant(''),
      hugeString().map((s) => chars(s, 257 + (s.length % 5000))),
    ),
    content: true,
  };
}

function intField(min: number, max: number): Field {
  return {
    valid: fc.integer({ min, max }),
    kind: 'number',
    required: false,
    invalid: fc.oneof(
      fc.integer({ min: min - 1_000_000, max: min - 1 }),
      fc.integer({ min: max + 1, max: max + 1_000_000 }),
      fc.double({ min, max, noNaN: true }).filter((x) => !Number.isInteger(x)),
      fc.constant(1e308),
    ),
  };
}

function enumField(values: string[], required: boolean): Field {
  return {
    valid: fc.constantFrom(...values),
    kind: 'enum',
    required,
    invalid: fc.oneof(
      fc.string({ maxLength: 8 }).filter((s) => !values.includes(s)),
      fc.constantFrom(...values.map((v) => v.toUpperCase()), `${values[0]} `),
    ),
  };
}

function idArray(known: string[], max: number): Field {
  return {
    valid: fc.array(fc.constantFrom(...known), { maxLength: 4 }) as fc.Arbitrary<J>,
    kind: 'array',
    required: false,
    invalid: fc.oneof(
      hugeArray(fc.constantFrom(...known)).map((a) =>
        (a as J[]).slice(0, Math.max(max + 1, (a as J[]).length)),
      ),
      fc.constant([''] as J[]),
      fc.constant([1, 2] as J[]),
      fc.constant([null] as J[]),
    ),
  };
}

function schemas(ids: Ids): Record<string, Record<string, Field>> {
  return {
    list_campaigns: { status: enumField(['active', 'closed'], false) },
    list_campaign_items: {
      campaign_id: idField(ids.campaigns, true),
      status: enumField(['pending', 'proposed', 'decided', 'all'], false),
      reviewer_id: idField(ids.users, false),
      min_risk: intField(0, 100),
      sort: enumField(['risk', 'user'], false),
      limit: intField(1, 500),
      cursor: {
        valid: fc.oneof(fc.constant(PLACEHOLDER_CURSOR), fc.string({ maxLength: 30 })),
        kind: 'string',
        required: false,
        invalid: hugeString().map((s) => s.padEnd(2049, 'x')),
        content: true,
      },
    },
    get_user_activity: {
      user_id: idField(ids.users, true),
      days: intField(1, 730),
      entitlement_id: idField(ids.entitlements, false),
    },
    check_sod: {
      user_id: idField(ids.users, false),
      add_entitlement_ids: idArray(ids.entitlements, 500),
      remove_entitlement_ids: idArray(ids.entitlements, 500),
      campaign_id: idField(ids.campaigns, false),
    },
    get_campaign_summary: { campaign_id: idField(ids.campaigns, true) },
    explain_item: { item_id: idField(ids.items, true) },
    get_shadow_report: { folds: intField(2, 20), campaign_id: idField(ids.campaigns, false) },
    propose_decision: {
      item_id: idField(ids.items, true),
      decision: enumField(['approve', 'revoke', 'escalate'], true),
      rationale: {
        valid: fc.oneof(
          fc.string({ minLength: 1, maxLength: 200 }).filter((s) => s.trim() !== ''),
          fc.constantFrom('Unused for 120 days', 'Needed for payroll'),
        ),
        kind: 'string',
        required: true,
        invalid: fc.oneof(
          fc.constantFrom('', '   ', '\n\t'),
          hugeString().map((s) => `x${s.padEnd(2001, 'y')}`),
        ),
        content: true,
      },
      confidence: {
        valid: fc.double({ min: 0, max: 1, noNaN: true }),
        kind: 'number',
        required: false,
        invalid: fc.oneof(
          fc.double({ min: 1.0001, max: 1e6, noNaN: true }),
          fc.double({ min: -1e6, max: -0.0001, noNaN: true }),
        ),
      },
    },
    submit_decision: {
      proposal_ids: {
        valid: fc.array(
          fc.oneof(
            { weight: 4, arbitrary: fc.constant(PLACEHOLDER_PROPOSAL) },
            { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) },
          ),
          { minLength: 1, maxLength: 4 },
        ) as fc.Arbitrary<J>,
        kind: 'array',
        required: true,
        invalid: fc.oneof(
          fc.constant([] as J[]),
          hugeArray(fc.constant(PLACEHOLDER_PROPOSAL)),
          fc.constant([''] as J[]),
        ),
      },
    },
  };
}

type Mutation =
  | { m: 'wrong-type' | 'invalid' | 'missing' | 'huge-string' | 'nasty'; field: string; value?: J }
  | { m: 'unknown'; key: string; value: J };

const unknownKey = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'minRisk',
    'campaignId',
    'confirm',
    'confirmation_id',
    'Status',
    'limit ',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
  fc.string({ minLength: 61, maxLength: 300 }),
);

const jsonLeaf: fc.Arbitrary<J> = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), nastyString);

function toolCall(name: string, fields: Record<string, Field>): fc.Arbitrary<Call> {
  const names = Object.keys(fields);
  const base = fc.record(
    Object.fromEntries(names.map((f) => [f, fields[f]!.valid])) as Record<string, fc.Arbitrary<J>>,
    { requiredKeys: names.filter((f) => fields[f]!.required) },
  );
  const pick = (keep: (f: Field) => boolean) => names.filter((f) => keep(fields[f]!));
  const options: fc.Arbitrary<Mutation>[] = [
    fc.record({
      m: fc.constant('unknown' as const),
      key: unknownKey,
      value: fc.oneof(jsonLeaf, deepNesting),
    }),
  ];
  if (names.length > 0) {
    const any = fc.constantFrom(...names);
    options.push(
      any.chain((field) =>
        wrongType(fields[field]!.kind).map((value) => ({ m: 'wrong-type' as const, field, value })),
      ),
      any.chain((field) =>
        (fields[field]!.kind === 'array'
          ? hugeArray(hugeString().map((s) => s.slice(0, 1000))).map((a) => (a as J[]).slice(0, 520))
          : hugeString()
        ).map((value) => ({ m: 'huge-string' as const, field, value })),
      ),
    );
  }
  const withInvalid = pick((f) => f.invalid !== undefined);
  if (withInvalid.length > 0)
    options.push(
      fc
        .constantFrom(...withInvalid)
        .chain((field) => fields[field]!.invalid!.map((value) => ({ m: 'invalid' as const, field, value }))),
    );
  const required = pick((f) => f.required);
  if (required.length > 0)
    options.push(fc.constantFrom(...required).map((field) => ({ m: 'missing' as const, field })));
  const content = pick((f) => f.content === true);
  if (content.length > 0)
    options.push(
      fc
        .constantFrom(...content)
        .chain((field) =>
          nastyString.filter((s) => s !== '').map((value) => ({ m: 'nasty' as const, field, value })),
        ),
    );
  const mutation = fc.oneof(...options);
  return fc
    .record({
      args: base,
      mutations: fc.oneof(
        { weight: 3, arbitrary: fc.constant([] as Mutation[]) },
        { weight: 7, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
      ),
      principal: fc.constantFrom<'admin' | 'reviewer'>('admin', 'admin', 'reviewer'),
    })
    .map(({ args, mutations, principal }) => {
      const entries: Array<[string, J]> = Object.entries(args as Record<string, J>);
      const set = (k: string, v: J | undefined) => {
        const i = entries.findIndex(([x]) => x === k);
        if (v === undefined) {
          if (i >= 0) entries.splice(i, 1);
        } else if (i >= 0) entries[i] = [k, v];
        else entries.push([k, v]);
      };
      const expect: Expect = { mode: 'either', names: [] };
      const labels: string[] = [];
      // The last mutation of a field decides what the server must do with it.
      const last = new Map<string, Mutation['m']>();
      for (const mu of mutations) {
        labels.push(mu.m);
        if (mu.m === 'unknown') {
          if (names.includes(mu.key)) continue;
          set(mu.key, mu.value);
          last.set(`unknown:${mu.key}`, 'unknown');
          expect.names.push('unknown argument');
          continue;
        }
        if (mu.m === 'missing') set(mu.field, undefined);
        else set(mu.field, mu.value);
        last.set(mu.field, mu.m);
        expect.names.push(mu.field);
      }
      // Hostile content in an id or free text may be accepted (it is data); every other mutation is refused.
      if ([...last.values()].some((m) => m !== 'nasty')) expect.mode = 'refuse';
      // A valid call may still fail on the data (an unknown id, a campaign_id with user_id):
      // then it must name one of its arguments; a reviewer may be refused an admin's tool.
      if (expect.mode === 'either') {
        expect.names.push(...names);
        if (principal === 'reviewer') expect.names.push('is for admins');
      }
      return {
        via: 'tool' as const,
        principal,
        name,
        args: new Obj(entries),
        expect,
        label: labels.join('+') || 'valid',
      };
    });
}

function otherCalls(): fc.Arbitrary<Call> {
  const principal = fc.constantFrom<'admin' | 'reviewer'>('admin', 'reviewer');
  const unknownTool = fc
    .record({
      name: fc.oneof(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
        fc.constantFrom(
          'list_campaigns ',
          'LIST_CAMPAIGNS',
          'submit-decision',
          'apply_decision',
          '__proto__',
          'constructor',
          'toString',
          '\ud800',
          '',
        ),
        hugeString(),
      ),
      args: fc.oneof(fc.constant(new Obj([])), fc.constant(new Obj([['__proto__', new Obj([['x', 1]])]]))),
      principal,
    })
    .filter(({ name }) => !/^(policy|outbox|cli):/.test(name) && !KNOWN.has(name))
    .map(({ name, args, principal }) => ({
      via: 'tool' as const,
      principal,
      name,
      args,
      expect: { mode: 'refuse' as const, names: ['Unknown tool', 'tools/call'] },
      label: 'unknown-tool',
    }));
  const nonObjectArgs = fc
    .record({
      name: fc.constantFrom(...KNOWN),
      args: fc.oneof(
        fc.constant([] as J[]),
        fc.array(jsonLeaf, { maxLength: 3 }) as fc.Arbitrary<J>,
        nastyString,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
      ),
      principal,
    })
    .map(({ name, args, principal }) => ({
      via: 'raw' as const,
      principal,
      method: 'tools/call',
      params: new Obj([
        ['name', name],
        ['arguments', args],
      ]),
      label: 'non-object-arguments',
    }));
  const rawName = fc
    .record({
      name: fc.oneof(
        fc.integer(),
        fc.constant(null),
        fc.boolean(),
        fc.constant(new Obj([])),
        fc.constant([] as J[]),
        fc.constant(['list_campaigns'] as J[]),
        fc.constant(new Obj([['__proto__', 'list_campaigns']])),
      ),
      missing: fc.boolean(),
      principal,
    })
    .map(({ name, missing, principal }) => ({
      via: 'raw' as const,
      principal,
      method: 'tools/call',
      params: missing
        ? new Obj([['arguments', new Obj([])]])
        : new Obj([
            ['name', name],
            ['arguments', new Obj([])],
          ]),
      label: 'non-string-tool-name',
    }));
  const rawOther = fc
    .record({
      pick: fc.constantFrom(
        ['tools/call', [] as J[]],
        ['tools/call', 'list_campaigns'],
        ['resources/read', new Obj([['uri', 'attest://campaigns/%zz/summary']])],
        ['resources/read', new Obj([['uri', 42]])],
        ['resources/read', new Obj([['uri', 'not a uri']])],
        ['resources/read', new Obj([['uri', 'attest://campaigns/no-such-campaign/summary']])],
        ['prompts/get', new Obj([['name', 'review_campaign']])],
        ['prompts/get', new Obj([['name', 7]])],
        ['tools/destroy', new Obj([])],
        ['__proto__', new Obj([])],
      ) as fc.Arbitrary<[string, J]>,
      principal,
    })
    .map(({ pick, principal }) => ({
      via: 'raw' as const,
      principal,
      method: pick[0],
      params: pick[1],
      label: `raw:${pick[0]}`,
    }));
  return fc.oneof(
    { weight: 3, arbitrary: unknownTool },
    { weight: 3, arbitrary: nonObjectArgs },
    { weight: 3, arbitrary: rawName },
    { weight: 1, arbitrary: rawOther },
  );
}

const KNOWN = new Set([
  'list_campaigns',
  'list_campaign_items',
  'get_user_activity',
  'check_sod',
  'get_campaign_summary',
  'explain_item',
  'get_shadow_report',
  'propose_decision',
  'submit_decision',
]);

// ---- the run

const tmp = tempDir('attest-fuzz-');
const dbPath = join(tmp.dir, 'fuzz.db');
let store: Store;
let admin: Harness;
let reviewer: Harness;

beforeAll(async () => {
  const config = testConfig({ db: dbPath });
  store = await tinyStore(config);
  admin = await startServer({ store, config: { db: dbPath } });
  reviewer = await startServer({
    store,
    config: { db: dbPath },
    principal: { id: 'fin.lead@example.com', role: 'reviewer', reviewer_ids: ['u2'] },
    clientName: 'fuzz-reviewer',
  });
  // The client validates every structured result against the tool's listed output schema.
  await admin.client.listTools();
  await reviewer.client.listTools();
});

afterAll(async () => {
  await admin?.close();
  await reviewer?.close();
  store?.close();
  tmp.cleanup();
});

const fileBytes = () =>
  ['', '-wal'].reduce((n, s) => {
    try {
      return n + statSync(dbPath + s).size;
    } catch {
      return n;
    }
  }, 0);

describe('generated input', () => {
  it(`${CALLS.toLocaleString('en')} generated calls: no crash, every refusal names the field, changes nothing and is audited once`, async () => {
    const ids: Ids = {
      campaigns: store.db.prepare('SELECT id FROM campaigns ORDER BY id').pluck().all() as string[],
      items: store.db.prepare('SELECT id FROM review_items ORDER BY id').pluck().all() as string[],
      users: store.db.prepare('SELECT id FROM users ORDER BY id').pluck().all() as string[],
      entitlements: store.db.prepare('SELECT id FROM entitlements ORDER BY id').pluck().all() as string[],
    };
    const toolArbs = Object.entries(schemas(ids)).map(([name, fields]) => toolCall(name, fields));
    const callArb = fc.oneof(
      { weight: 6, arbitrary: fc.oneof(...toolArbs) },
      { weight: 1, arbitrary: otherCalls() },
    );

    const log = new AuditLog(store.db);
    const proposals: string[] = [];
    let cursor: string | null = null;
    const entriesBefore = log.count();
    const bytesBefore = fileBytes();
    let lastSeq =
      (store.db.prepare('SELECT coalesce(max(seq), 0) FROM audit_log').pluck().get() as number) ?? 0;
    const dumpTables = tableDumper(store.db);
    let dump = JSON.stringify(dumpTables());
    const stats = { calls: 0, ok: 0, refused: 0, protocolErrors: 0, changedByOk: 0, extraEntries: 0 };
    const byLabel = new Map<string, number>();

    const resolve = (v: J): J => {
      if (v === PLACEHOLDER_PROPOSAL)
        return proposals.length > 0 ? proposals[(stats.calls * 7) % proposals.length]! : 'p-none';
      if (v === PLACEHOLDER_CURSOR) return cursor ?? 'no-cursor-yet';
      if (Array.isArray(v)) return v.map(resolve);
      if (v instanceof Obj) return new Obj(v.entries.map(([k, x]) => [k, resolve(x)]));
      return v;
    };

    const runOne = async (call: Call) => {
      stats.calls++;
      byLabel.set(call.label, (byLabel.get(call.label) ?? 0) + 1);
      const h = call.principal === 'admin' ? admin : reviewer;
      let refused = false;
      let text = '';
      if (call.via === 'tool') {
        const args = JSON.parse(toText(resolve(call.args))) as Record<string, unknown>;
        let r: Awaited<ReturnType<Harness['call']>>;
        try {
          r = (await h.client.callTool({ name: call.name, arguments: args })) as typeof r;
        } catch (e) {
          // Only a protocol refusal of an unknown tool name is acceptable here, never an internal error.
          if (!(e instanceof ProtocolError) || e.code !== -32602 || KNOWN.has(call.name))
            throw new Error(`${call.name} (${call.label}) threw: ${String(e)}`);
          r = { isError: true, content: [{ type: 'text', text: `tools/call ${e.message}` }] };
          stats.protocolErrors++;
        }
        text = r.content.map((c) => c.text ?? '').join(' ');
        expect(text, `${call.name} (${call.label})`).not.toMatch(/Internal error/i);
        if (r.isError) {
          refused = true;
          const named = call.expect.names.some((n) => text.includes(n));
          expect(
            named,
            `${call.name} (${call.label}) refused without naming ${call.expect.names.join('/')}: ${text.slice(0, 300)}`,
          ).toBe(true);
        } else {
          expect(
            call.expect.mode,
            `${call.name} (${call.label}) was accepted: ${JSON.stringify(args).slice(0, 300)}`,
          ).toBe('either');
          expect(r.structuredContent, `${call.name} returned no structured content`).toBeDefined();
          const sc = r.structuredContent as Record<string, unknown>;
          if (call.name === 'propose_decision' && typeof sc.proposal_id === 'string')
            proposals.push(sc.proposal_id);
          if (call.name === 'list_campaign_items' && typeof sc.next_cursor === 'string')
            cursor = sc.next_cursor;
        }
      } else {
        const params = JSON.parse(toText(call.params));
        try {
          await h.client.request({ method: call.method, params } as never, AnyResult);
          throw new Error(
            `${call.method} (${call.label}) was accepted: ${JSON.stringify(params).slice(0, 200)}`,
          );
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          // Invalid params, method not found, or a resource that does not exist: never an internal error.
          expect([-32602, -32601, -32002], `${call.label}: ${e.message}`).toContain(e.code);
          refused = true;
          stats.protocolErrors++;
        }
      }
      if (refused) stats.refused++;
      else stats.ok++;

      // Exactly one audit entry for this request; any other is a policy/outbox/cli record of a write.
      const fresh = store.db
        .prepare('SELECT seq, tool FROM audit_log WHERE seq > ? ORDER BY seq')
        .all(lastSeq) as Array<{
        seq: number;
        tool: string;
      }>;
      const extra = fresh.filter((e) => /^(policy|outbox|cli):/.test(e.tool));
      const forRequest = fresh.filter((e) => !/^(policy|outbox|cli):/.test(e.tool));
      expect(
        forRequest.length,
        `${call.label}: audit entries for one request: ${JSON.stringify(fresh)}`,
      ).toBe(1);
      if (call.via === 'tool' && KNOWN.has(call.name))
        expect(forRequest[0]!.tool).toMatch(new RegExp(`^(${call.name}|protocol:tools/call)$`));
      if (call.via === 'raw') expect(forRequest[0]!.tool).toMatch(/^(protocol:|resource:|prompt:)/);
      stats.extraEntries += extra.length;
      lastSeq = fresh.at(-1)?.seq ?? lastSeq;

      const now = JSON.stringify(dumpTables());
      if (refused) expect(now === dump, `${call.label}: a refused call changed the store`).toBe(true);
      else if (now !== dump) stats.changedByOk++;
      dump = now;
    };

    await fc.assert(
      fc.asyncProperty(callArb, async (call) => {
        await runOne(call);
      }),
      { numRuns: CALLS, seed: seedFor('generated input', 20261202), endOnFailure: true },
    );

    // The server still answers, the chain verifies, and the store grew by a bounded amount per entry.
    const after = await admin.ok<{ campaigns: unknown[] }>('list_campaigns', {});
    expect(after.campaigns.length).toBeGreaterThan(0);
    stats.calls++;
    const verified = log.verify();
    expect(verified.ok, JSON.stringify(verified).slice(0, 500)).toBe(true);
    const entries = log.count() - entriesBefore;
    expect(entries).toBe(stats.calls + stats.extraEntries);
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const grown = fileBytes() - bytesBefore;
    const largest = store.db
      .prepare(
        'SELECT max(length(arguments) + coalesce(length(details), 0) + coalesce(length(error), 0) + length(tool)) FROM audit_log',
      )
      .pluck()
      .get() as number;
    report(
      `generated input: ${stats.calls} calls (${stats.ok} answered, ${stats.refused} refused, ${stats.protocolErrors} of them protocol errors), 0 crashes; ${stats.changedByOk} accepted calls changed the store, 0 refused ones did`,
    );
    report(
      `generated input: ${entries} audit entries (${stats.calls} for requests, ${stats.extraEntries} policy/outbox records), chain verified`,
    );
    report(
      `generated input: store grew ${(grown / 1024 / 1024).toFixed(1)} MiB, ${Math.round(grown / entries)} bytes per entry; largest entry ${largest} characters`,
    );
    report(
      `generated input: cases ${[...byLabel.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    expect(largest).toBeLessThan(64 * 1024);
    expect(grown / entries).toBeLessThan(16 * 1024);
  });
});

describe('protocol-level bad input', () => {
  it('is refused as invalid params naming the field (never as an internal error, never unanswered) and audited', async () => {
    const h = await startServer();
    try {
      const cases: Array<[string, unknown, RegExp, number]> = [
        ['tools/call', { name: 42, arguments: {} }, /params\.name/, -32602],
        ['tools/call', { arguments: {} }, /params\.name/, -32602],
        ['tools/call', { name: 'list_campaigns', arguments: 'x' }, /params\.arguments/, -32602],
        ['tools/call', [], /params/, -32602],
        ['resources/read', { uri: 'not a uri' }, /params\.uri/, -32602],
        ['resources/read', { uri: 42 }, /params\.uri/, -32602],
        ['resources/read', { uri: 'attest://campaigns/%zz/summary' }, /percent-encoding/, -32602],
        // Resource not found: -32002 up to 2025-11-25, -32602 from 2026-07-28 (the harness's era).
        ['resources/read', { uri: 'attest://campaigns/nope/summary' }, /No campaign "nope"/, -32602],
        ['prompts/get', { name: 7 }, /params\.name/, -32602],
      ];
      for (const [method, params, message, code] of cases) {
        const before = h.store.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
        const e = await h.client.request({ method, params } as never, AnyResult, { timeout: 5000 }).then(
          () => null,
          (err: unknown) => err,
        );
        expect(e, `${method} ${JSON.stringify(params)}`).toBeInstanceOf(ProtocolError);
        expect((e as ProtocolError).code, `${method} ${JSON.stringify(params)}`).toBe(code);
        expect((e as ProtocolError).message).toMatch(message);
        const entry = h.store.db
          .prepare('SELECT tool, outcome FROM audit_log WHERE seq > ? ORDER BY seq')
          .all(before) as Array<{ tool: string; outcome: string }>;
        expect(entry, `${method} ${JSON.stringify(params)}`).toHaveLength(1);
        expect(entry[0]!.outcome).not.toBe('ok');
      }
    } finally {
      await h.close();
    }
  });

  it('keeps an own "__proto__" argument: refused by name, and stored as sent', async () => {
    const h = await startServer();
    try {
      const args = JSON.parse('{"__proto__": {"user_id": "u3"}}') as Record<string, unknown>;
      const text = await h.fail('get_user_activity', args);
      expect(text).toMatch(/unknown argument "__proto__"/);
      const stored = h.store.db
        .prepare("SELECT arguments FROM audit_log WHERE tool = 'get_user_activity'")
        .pluck()
        .get() as string;
      expect(stored).toBe('{"__proto__":{"user_id":"u3"}}');
    } finally {
      await h.close();
    }
  });
});

describe('the audit entry of a huge call', () => {
  it('keeps a bounded copy of the arguments in all, with the size and digest of what was sent', async () => {
    const h = await startServer();
    try {
      // 520 ids of 2,000 characters: each string and the array are within the per-value caps, the whole is not.
      const ids = Array.from({ length: 520 }, (_, i) => `${i}`.padEnd(2000, 'x'));
      await h.fail('submit_decision', { proposal_ids: ids });
      const row = h.store.db
        .prepare("SELECT arguments, details FROM audit_log WHERE tool = 'submit_decision'")
        .get() as { arguments: string; details: string };
      expect(row.arguments.length).toBeLessThan(17_000);
      const cut = (JSON.parse(row.details) as { arguments_cut: { bytes: number; sha256: string } })
        .arguments_cut;
      expect(cut.bytes).toBe(Buffer.byteLength(JSON.stringify({ proposal_ids: ids })));
      expect(cut.sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await h.close();
    }
  });
});

/** The printed tables and the PASS/MISS targets, computed from the measured figures only. */
import type { LatencyCase, LatencyResult, Layer, Page, Transport } from './latency.js';
import type { MachineInfo } from './machine.js';
import type { AnalyzeResult, FloorResult, GenerateResult, ImportResult } from './phase.js';

export interface Summary<T> {
  runs: number;
  /** Median over runs. */
  seconds: number;
  secondsRange: [number, number];
  /** Largest peak RSS over runs. */
  maxRssMB: number;
  last: T;
}

export interface SizeResult {
  users: number;
  snapshot: GenerateResult & { cached: boolean };
  load: {
    import: Summary<ImportResult>;
    analyze: Summary<AnalyzeResult>;
    importFloor: Summary<FloorResult>;
    analyzeFloor: Summary<FloorResult>;
  } | null;
  latency: LatencyResult | null;
}

export interface Target {
  target: string;
  status: 'PASS' | 'MISS' | 'n/a';
  measured: string;
}

const TARGET_USERS = 100_000;
const LINEAR_TOLERANCE = 1.25;
const GiB_MB = 1024;

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(3) : n.toFixed(1);
const x = (n: number) => `${n.toFixed(2)}×`;
const pct = (n: number) => `${n >= 0 ? '+' : ''}${(n * 100).toFixed(0)}%`;

export function findCase(
  l: LatencyResult | null,
  tool: string,
  layer: Layer,
  transport: Transport,
  page: Page | null = null,
): LatencyCase | undefined {
  return l?.cases.find(
    (c) => c.tool === tool && c.layer === layer && c.transport === transport && c.page === page,
  );
}

const PAGES: Page[] = ['first', 'middle', 'last'];

/** The per-row and per-call figures that should stay flat as the tenant grows (`target`: checked). */
function scalingRows(
  sizes: SizeResult[],
): Array<{ label: string; values: Array<number | undefined>; digits: number; target: boolean }> {
  const lat = (tool: string, layer: Layer, transport: Transport, page: Page | null) =>
    sizes.map((s) => findCase(s.latency, tool, layer, transport, page)?.figure.p50);
  const perRow = (f: (l: NonNullable<SizeResult['load']>) => number) =>
    sizes.map((s) => (s.load ? f(s.load) : undefined));
  return [
    {
      label: 'import µs/row (all files)',
      values: perRow((l) => (l.import.seconds * 1e6) / l.import.last.totalRows),
      digits: 2,
      target: true,
    },
    {
      label: 'import floor µs/row',
      values: perRow((l) => (l.importFloor.seconds * 1e6) / l.importFloor.last.rows),
      digits: 2,
      target: false,
    },
    {
      label: 'import µs/assignment',
      values: perRow((l) => (l.import.seconds * 1e6) / l.import.last.assignments),
      digits: 2,
      target: false,
    },
    {
      label: 'analysis µs/item',
      values: perRow((l) => (l.analyze.seconds * 1e6) / l.analyze.last.items),
      digits: 2,
      target: true,
    },
    {
      label: 'analysis floor µs/item',
      values: perRow((l) => (l.analyzeFloor.seconds * 1e6) / l.analyzeFloor.last.rows),
      digits: 2,
      target: false,
    },
    {
      label: 'import peak RSS KB/assignment',
      values: perRow((l) => (l.import.maxRssMB * 1024) / l.import.last.assignments),
      digits: 3,
      target: false,
    },
    {
      label: 'analysis peak RSS KB/item',
      values: perRow((l) => (l.analyze.maxRssMB * 1024) / l.analyze.last.items),
      digits: 3,
      target: false,
    },
    ...PAGES.map((p) => ({
      label: `list ${p} page, stdio p50 ms`,
      values: lat('list_campaign_items', 'attest', 'stdio', p),
      digits: 3,
      target: true,
    })),
    ...PAGES.map((p) => ({
      label: `list ${p} page, store p50 ms`,
      values: lat('list_campaign_items', 'store', 'none', p),
      digits: 3,
      target: false,
    })),
    {
      label: 'countItems (store) p50 ms',
      values: lat('list_campaign_items', 'store-count', 'none', null),
      digits: 3,
      target: false,
    },
    {
      label: 'get_user_activity stdio p50 ms',
      values: lat('get_user_activity', 'attest', 'stdio', null),
      digits: 3,
      target: true,
    },
    {
      label: 'check_sod stdio p50 ms',
      values: lat('check_sod', 'attest', 'stdio', null),
      digits: 3,
      target: true,
    },
    {
      label: 'list_campaigns in-proc p50 ms',
      values: lat('list_campaigns', 'attest', 'memory', null),
      digits: 3,
      target: true,
    },
    {
      label: 'explain_item in-proc p50 ms',
      values: lat('explain_item', 'attest', 'memory', null),
      digits: 3,
      target: true,
    },
    {
      label: 'audit append p50 ms',
      values: lat('audit', 'audit', 'none', null),
      digits: 4,
      target: true,
    },
  ];
}

/** The read tools the pipeline's overhead is checked for (in process), with the page where it applies. */
const READ_CASES: Array<[string, Page | null]> = [
  ['list_campaign_items', 'first'],
  ['list_campaign_items', 'middle'],
  ['list_campaign_items', 'last'],
  ['get_user_activity', null],
  ['check_sod', null],
  ['list_campaigns', null],
  ['explain_item', null],
];

/** The cases measured over stdio against their page floor. */
const STDIO_CASES: Array<[string, Page | null]> = READ_CASES.slice(0, 5);

const label = (tool: string, page: Page | null) => (page ? `${tool} ${page}` : tool);

export function evaluateTargets(sizes: SizeResult[]): Target[] {
  const targets: Target[] = [];
  if (sizes.length === 0) return targets;
  const ref = sizes.find((s) => s.users === TARGET_USERS) ?? sizes[sizes.length - 1]!;
  const at =
    ref.users === TARGET_USERS ? '' : ` [measured at ${int(ref.users)} users, not ${int(TARGET_USERS)}]`;
  const l = ref.latency;
  const check = (target: string, ok: boolean, measured: string) =>
    targets.push({ target, status: ok ? 'PASS' : 'MISS', measured: `${measured}${at}` });

  // Load phases against their floors.
  if (ref.load) {
    const { import: imp, analyze: an, importFloor: fi, analyzeFloor: fa } = ref.load;
    const ri = imp.seconds / fi.seconds;
    check(
      'import ≤ 2× its floor (the load alone)',
      ri <= 2,
      `${x(ri)} (${imp.seconds.toFixed(2)} s vs floor ${fi.seconds.toFixed(2)} s for ${int(imp.last.totalRows)} rows)`,
    );
    const ra = an.seconds / fa.seconds;
    check(
      'analysis ≤ 2.5× its floor',
      ra <= 2.5,
      `${x(ra)} (${an.seconds.toFixed(2)} s vs floor ${fa.seconds.toFixed(2)} s for ${int(an.last.items)} items)`,
    );
  } else {
    targets.push({
      target: 'import / analysis vs floors',
      status: 'n/a',
      measured: '--skip-load: not measured',
    });
  }

  // Over stdio against a bare SDK server returning the same bytes, interleaved.
  for (const [tool, page] of STDIO_CASES) {
    const ours = findCase(l, tool, 'attest', 'stdio', page);
    const floor = findCase(l, tool, 'replay', 'stdio', page);
    if (!ours || !floor) continue;
    const r50 = ours.figure.p50 / floor.figure.p50;
    const limit = 1.5;
    check(
      `${label(tool, page)} over stdio: p50 ≤ ${limit}× the same-bytes floor`,
      r50 <= limit,
      `${x(r50)} (p50 ${ms(ours.figure.p50)} vs ${ms(floor.figure.p50)} ms, ${int(ours.resultBytes ?? 0)} bytes)`,
    );
    if (tool === 'list_campaign_items') {
      const r99 = ours.figure.p99 / floor.figure.p99;
      check(
        `${label(tool, page)} over stdio: p99 ≤ 3× the same-bytes floor`,
        r99 <= 3,
        `${x(r99)} (p99 ${ms(ours.figure.p99)} vs ${ms(floor.figure.p99)} ms)`,
      );
    }
  }
  if (!findCase(l, 'list_campaign_items', 'replay', 'stdio', 'first')) {
    targets.push({ target: 'stdio vs page floor', status: 'n/a', measured: 'stdio not measured' });
  }

  // The whole pipeline (audit included) against the same handler registered bare, in process.
  for (const [tool, page] of READ_CASES) {
    const withP = findCase(l, tool, 'attest', 'memory', page);
    const bare = findCase(l, tool, 'no-policy', 'memory', page);
    const noAudit = findCase(l, tool, 'no-audit', 'memory', page);
    if (!withP || !bare) continue;
    const over = withP.figure.p50 / bare.figure.p50 - 1;
    const audit = noAudit ? withP.figure.p50 / noAudit.figure.p50 - 1 : Number.NaN;
    check(
      `pipeline with audit ≤ 10% over the bare handler: ${label(tool, page)}`,
      over <= 0.1,
      `${pct(over)} (p50 ${ms(bare.figure.p50)} → ${ms(withP.figure.p50)} ms; audit stage alone ${pct(audit)})`,
    );
  }

  // Peak RSS.
  if (ref.load || l) {
    const rss: Array<[string, number | null]> = [
      ['import', ref.load?.import.maxRssMB ?? null],
      ['analysis', ref.load?.analyze.maxRssMB ?? null],
      ['stdio server', l?.stdioServerPeakRssMB.attest ?? null],
    ];
    const known = rss.filter((r): r is [string, number] => r[1] !== null);
    check(
      'peak RSS < 1 GiB (import, analysis, server)',
      known.every(([, v]) => v < GiB_MB),
      known.map(([k, v]) => `${k} ${int(v)} MB`).join(', '),
    );
  }

  // Tokens: the text of a list page, and the page's bytes against the same page before the change.
  if (l?.sizes) {
    for (const page of PAGES) {
      const b = l.sizes[label('list_campaign_items', page)];
      if (!b?.items) continue;
      check(
        `list_campaign_items ${page}: text ≤ 250 bytes per item`,
        (b.textPerItem ?? 0) <= 250,
        `${(b.textPerItem ?? 0).toFixed(0)} bytes per item (${int(b.text)} bytes of text for ${b.items} items)`,
      );
      const share = b.total / b.before.total;
      check(
        `list_campaign_items ${page}: page ≤ 50% of its bytes before the change`,
        share <= 0.5,
        `${(share * 100).toFixed(0)}% (${int(b.total)} bytes, ~${int(b.tokens)} tokens; before ${int(b.before.total)} bytes, ~${int(b.before.tokens)} tokens)`,
      );
    }
    const expected = [...STDIO_CASES, ...READ_CASES.slice(5)].map(([t, p]) => label(t, p));
    const missing = expected.filter((k) => !l.validatedByClient?.includes(k));
    check(
      'every result validates in an SDK client against its outputSchema',
      missing.length === 0,
      missing.length === 0
        ? `${expected.length} cases, 4 calls each`
        : `not validated: ${missing.join(', ')}`,
    );
  }

  // Linear growth: per-row costs and per-call latency at the largest size against the smallest.
  if (sizes.length >= 2) {
    const rows = scalingRows(sizes);
    for (const row of rows.filter((r) => r.target)) {
      const first = row.values[0];
      const last = row.values[row.values.length - 1];
      if (first === undefined || last === undefined) continue;
      const growth = last / first;
      targets.push({
        target: `linear growth: ${row.label} at ${int(sizes[sizes.length - 1]!.users)} users within ${x(LINEAR_TOLERANCE)} of ${int(sizes[0]!.users)} users`,
        status: growth <= LINEAR_TOLERANCE ? 'PASS' : 'MISS',
        measured: `${row.values.map((v) => (v === undefined ? '-' : v.toFixed(row.digits))).join(' → ')} (${x(growth)})`,
      });
    }
  }
  return targets;
}

function table(header: string[], rows: string[][], align: Array<'l' | 'r'>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

const LAYERS: Array<{ head: string; layer: Layer; transport: Transport }> = [
  { head: 'raw SQL', layer: 'raw-sql', transport: 'none' },
  { head: 'SQL seek', layer: 'raw-seek', transport: 'none' },
  { head: 'store', layer: 'store', transport: 'none' },
  { head: 'handler', layer: 'handler', transport: 'none' },
  { head: 'SDK no-policy', layer: 'no-policy', transport: 'memory' },
  { head: 'SDK no-audit', layer: 'no-audit', transport: 'memory' },
  { head: 'in-proc attest', layer: 'attest', transport: 'memory' },
  { head: 'stdio attest', layer: 'attest', transport: 'stdio' },
  { head: 'stdio floor', layer: 'replay', transport: 'stdio' },
];

function latencyTable(l: LatencyResult): string {
  const cell = (c: LatencyCase | undefined) => (c ? `${ms(c.figure.p50)} / ${ms(c.figure.p99)}` : '');
  const rows: string[][] = [];
  for (const page of PAGES) {
    rows.push([
      `list_campaign_items ${page}`,
      ...LAYERS.map((L) => cell(findCase(l, 'list_campaign_items', L.layer, L.transport, page))),
    ]);
  }
  rows.push([
    '  countItems (runs per page)',
    '',
    '',
    cell(findCase(l, 'list_campaign_items', 'store-count', 'none')),
  ]);
  for (const tool of ['get_user_activity', 'check_sod', 'list_campaigns', 'explain_item']) {
    rows.push([tool, ...LAYERS.map((L) => cell(findCase(l, tool, L.layer, L.transport)))]);
  }
  rows.push([
    'echo (bare SDK server)',
    ...LAYERS.slice(0, 6).map(() => ''),
    cell(findCase(l, 'echo', 'echo', 'memory')),
    cell(findCase(l, 'echo', 'echo', 'stdio')),
  ]);
  const audit = findCase(l, 'audit', 'audit', 'none');
  const auditFloor = findCase(l, 'audit', 'audit-floor', 'none');
  const auditLine =
    audit && auditFloor
      ? `audit append (Auditor.record, one ${int(l.auditEntryBytes)}-byte entry): p50 / p99 ${cell(audit)} ms; ` +
        `audit floor (one insert of a row that size, autocommit): ${cell(auditFloor)} ms; ` +
        `ratio ${x(audit.figure.p50 / auditFloor.figure.p50)}`
      : '';
  return `${table(['p50 / p99 ms', ...LAYERS.map((L) => L.head)], rows, ['l', ...LAYERS.map(() => 'r' as const)])}\n${auditLine}`;
}

function sizesTable(l: LatencyResult): string {
  const rows = Object.entries(l.sizes ?? {}).map(([k, b]) => [
    k,
    int(b.total),
    int(b.structured),
    int(b.text),
    b.textPerItem === null ? '-' : b.textPerItem.toFixed(0),
    int(b.tokens),
    int(b.before.total),
    int(b.before.tokens),
    `${((b.total / b.before.total) * 100).toFixed(0)}%`,
  ]);
  return table(
    [
      'result (bytes; tokens = bytes / 4)',
      'total',
      'structured',
      'text',
      'text/item',
      'tokens',
      'before',
      'tokens before',
      'now/before',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function formatReport(r: {
  startedAt: string;
  machine: MachineInfo;
  options: { plan: { warmup: number; runs: number; calls: number } };
  sizes: SizeResult[];
  targets: Target[];
}): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(
    `\nAttest benchmark, ${r.startedAt}\n${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.sqlite}, ${m.platform} ${m.kernel}`,
  );

  const loaded = r.sizes.filter((s) => s.load);
  if (loaded.length > 0) {
    out.push(
      "\nLoad (each run in a fresh process; time = median of runs, RSS = peak of that phase's own process)",
    );
    out.push(
      table(
        [
          'users',
          'assignments',
          'rows read',
          'import s',
          'floor s',
          'ratio',
          'rows/s',
          'import RSS MB',
          'items',
          'analysis s',
          'floor s',
          'ratio',
          'items/s',
          'analysis RSS MB',
          'runs',
          'store MB',
        ],
        loaded.map((s) => {
          const i = s.load!.import;
          const a = s.load!.analyze;
          const fi = s.load!.importFloor;
          const fa = s.load!.analyzeFloor;
          return [
            int(s.users),
            int(i.last.assignments),
            int(i.last.totalRows),
            i.seconds.toFixed(2),
            fi.seconds.toFixed(2),
            x(i.seconds / fi.seconds),
            int(i.last.totalRows / i.seconds),
            int(i.maxRssMB),
            int(a.last.items),
            a.seconds.toFixed(2),
            fa.seconds.toFixed(2),
            x(a.seconds / fa.seconds),
            int(a.last.items / a.seconds),
            int(a.maxRssMB),
            String(i.runs),
            int(i.last.dbBytes / 1024 / 1024),
          ];
        }),
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
  }

  const p = r.options.plan;
  for (const s of r.sizes) {
    const l = s.latency;
    if (!l) continue;
    out.push(
      `\nLatency at ${int(s.users)} users: ${int(l.items)} items, ${int(l.pages)} pages of ${l.pageSize} ` +
        `(middle page at item ${int(l.offsets.middle)}, last at ${int(l.offsets.last)}; found by walking in ${l.walk.seconds.toFixed(1)} s, ${int(l.walk.calls)} calls)` +
        `\nmedian of ${p.runs} runs × ${p.calls} calls after ${p.warmup} warm-up calls; stdio server peak RSS ${l.stdioServerPeakRssMB.attest ?? '-'} MB (echo ${l.stdioServerPeakRssMB.echo ?? '-'} MB)`,
    );
    out.push(latencyTable(l));
    const ratio = (tool: string, page: Page | null, q: 'p50' | 'p99') => {
      const c = findCase(l, tool, 'attest', 'stdio', page);
      const f = findCase(l, tool, 'replay', 'stdio', page);
      return c && f ? x(c.figure[q] / f.figure[q]) : '-';
    };
    const overhead = (tool: string, page: Page | null, base: Layer) => {
      const a = findCase(l, tool, 'attest', 'memory', page);
      const b = findCase(l, tool, base, 'memory', page);
      return a && b ? pct(a.figure.p50 / b.figure.p50 - 1) : '-';
    };
    out.push(
      '\n' +
        table(
          [
            'ratios',
            'stdio ÷ floor p50',
            'stdio ÷ floor p99',
            'pipeline+audit vs bare (p50)',
            'audit vs no-audit (p50)',
          ],
          READ_CASES.map(([tool, page]) => [
            label(tool, page),
            ratio(tool, page, 'p50'),
            ratio(tool, page, 'p99'),
            overhead(tool, page, 'no-policy'),
            overhead(tool, page, 'no-audit'),
          ]),
          ['l', 'r', 'r', 'r', 'r'],
        ),
    );
    out.push(`\n${sizesTable(l)}`);
  }

  if (r.sizes.length >= 2) {
    out.push(
      '\nScaling: per-row and per-call figures by size (flat = linear total cost; growth = largest ÷ smallest)',
    );
    out.push(
      table(
        ['figure', ...r.sizes.map((s) => int(s.users)), 'growth'],
        scalingRows(r.sizes).map((row) => {
          const vals = row.values;
          const first = vals[0];
          const last = vals[vals.length - 1];
          return [
            row.label,
            ...vals.map((v) => (v === undefined ? '-' : v.toFixed(row.digits))),
            first !== undefined && last !== undefined ? x(last / first) : '-',
          ];
        }),
        ['l', ...r.sizes.map(() => 'r' as const), 'r'],
      ),
    );
  }

  out.push('\nTargets');
  for (const t of r.targets) out.push(`${t.status.padEnd(4)}  ${t.target}\n      ${t.measured}`);
  return out.join('\n');
}

/** The printed tables and the PASS/MISS targets, computed from the measured figures only. */
import type { LatencyCase, LatencyResult, Layer, Page, Transport } from './latency.js';
import type { MachineInfo } from './machine.js';
import type { AnalyzeResult, GenerateResult, ImportResult } from './phase.js';

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
  load: { import: Summary<ImportResult>; analyze: Summary<AnalyzeResult> } | null;
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

/** The per-row and per-call figures that should stay flat as the tenant grows. */
function scalingRows(
  sizes: SizeResult[],
): Array<{ label: string; values: Array<number | undefined>; digits: number }> {
  const lat = (tool: string, layer: Layer, transport: Transport, page: Page | null) =>
    sizes.map((s) => findCase(s.latency, tool, layer, transport, page)?.figure.p50);
  return [
    {
      label: 'import µs/row (all files)',
      values: sizes.map((s) =>
        s.load ? (s.load.import.seconds * 1e6) / s.load.import.last.totalRows : undefined,
      ),
      digits: 2,
    },
    {
      label: 'import µs/assignment',
      values: sizes.map((s) =>
        s.load ? (s.load.import.seconds * 1e6) / s.load.import.last.assignments : undefined,
      ),
      digits: 2,
    },
    {
      label: 'analysis µs/item',
      values: sizes.map((s) =>
        s.load ? (s.load.analyze.seconds * 1e6) / s.load.analyze.last.items : undefined,
      ),
      digits: 2,
    },
    {
      label: 'import peak RSS KB/assignment',
      values: sizes.map((s) =>
        s.load ? (s.load.import.maxRssMB * 1024) / s.load.import.last.assignments : undefined,
      ),
      digits: 3,
    },
    {
      label: 'analysis peak RSS KB/item',
      values: sizes.map((s) =>
        s.load ? (s.load.analyze.maxRssMB * 1024) / s.load.analyze.last.items : undefined,
      ),
      digits: 3,
    },
    ...PAGES.map((p) => ({
      label: `list ${p} page, stdio p50 ms`,
      values: lat('list_campaign_items', 'attest', 'stdio', p),
      digits: 3,
    })),
    ...PAGES.map((p) => ({
      label: `list ${p} page, store p50 ms`,
      values: lat('list_campaign_items', 'store', 'none', p),
      digits: 3,
    })),
    {
      label: 'countItems (store) p50 ms',
      values: lat('list_campaign_items', 'store-count', 'none', null),
      digits: 3,
    },
    {
      label: 'get_user_activity stdio p50 ms',
      values: lat('get_user_activity', 'attest', 'stdio', null),
      digits: 3,
    },
    { label: 'check_sod stdio p50 ms', values: lat('check_sod', 'attest', 'stdio', null), digits: 3 },
  ];
}

export function evaluateTargets(sizes: SizeResult[]): Target[] {
  const targets: Target[] = [];
  if (sizes.length === 0) return targets;
  const ref = sizes.find((s) => s.users === TARGET_USERS) ?? sizes[sizes.length - 1]!;
  const at =
    ref.users === TARGET_USERS ? '' : ` [measured at ${int(ref.users)} users, not ${int(TARGET_USERS)}]`;
  const l = ref.latency;

  // stdio page latency against the bare echo server over stdio.
  const echo = findCase(l, 'echo', 'echo', 'stdio');
  const pages = PAGES.map((p) => ({ p, c: findCase(l, 'list_campaign_items', 'attest', 'stdio', p) }));
  if (echo && pages.every((x) => x.c)) {
    const ratios = pages.map(({ p, c }) => ({ p, r: c!.figure.p50 / echo.figure.p50 }));
    targets.push({
      target: 'list_campaign_items (50 items) over stdio: p50 within 3× the bare echo call over stdio',
      status: ratios.every((r) => r.r <= 3) ? 'PASS' : 'MISS',
      measured:
        ratios.map((r) => `${r.p} ${x(r.r)}`).join(', ') +
        ` (echo p50 ${ms(echo.figure.p50)} ms; list p50 ${pages.map(({ c }) => ms(c!.figure.p50)).join('/')} ms)${at}`,
    });
    targets.push({
      target: 'list_campaign_items (50 items) over stdio: p99 under 10 ms',
      status: pages.every(({ c }) => c!.figure.p99 < 10) ? 'PASS' : 'MISS',
      measured: `${pages.map(({ p, c }) => `${p} ${ms(c!.figure.p99)} ms`).join(', ')}${at}`,
    });
  } else {
    targets.push({
      target: 'list_campaign_items over stdio vs echo over stdio',
      status: 'n/a',
      measured: 'stdio not measured',
    });
  }

  // Policy pipeline (with audit) against the same handler registered without it, in process.
  for (const [tool, page] of [
    ['list_campaign_items', 'first'],
    ['get_user_activity', null],
    ['check_sod', null],
  ] as const) {
    const withP = findCase(l, tool, 'attest', 'memory', page);
    const without = findCase(l, tool, 'no-policy', 'memory', page);
    const noAudit = findCase(l, tool, 'no-audit', 'memory', page);
    if (!withP || !without) continue;
    const over = withP.figure.p50 / without.figure.p50 - 1;
    const audit = noAudit ? withP.figure.p50 / noAudit.figure.p50 - 1 : Number.NaN;
    targets.push({
      target: `policy pipeline with audit adds ≤ 15% in process: ${tool}${page ? ` (${page} page)` : ''}`,
      status: over <= 0.15 ? 'PASS' : 'MISS',
      measured: `${pct(over)} (p50 ${ms(without.figure.p50)} → ${ms(withP.figure.p50)} ms; audit stage alone ${pct(audit)})${at}`,
    });
  }

  // Load phases, scaled linearly to one million rows when the 100k tenant was not measured.
  if (ref.load) {
    const imp = ref.load.import;
    const an = ref.load.analyze;
    const impProj = (imp.seconds * 1e6) / imp.last.assignments;
    const anProj = (an.seconds * 1e6) / an.last.items;
    const exact = ref.users === TARGET_USERS;
    targets.push({
      target: 'import of 1M assignments under 10 s',
      status: (exact ? imp.seconds : impProj) < 10 ? 'PASS' : 'MISS',
      measured: exact
        ? `${imp.seconds.toFixed(1)} s for ${int(imp.last.assignments)} assignments (${int(imp.last.totalRows)} rows in all files)`
        : `${impProj.toFixed(1)} s projected linearly from ${imp.seconds.toFixed(2)} s for ${int(imp.last.assignments)}${at}`,
    });
    targets.push({
      target: 'analysis of 1M items under 20 s',
      status: (exact ? an.seconds : anProj) < 20 ? 'PASS' : 'MISS',
      measured: exact
        ? `${an.seconds.toFixed(1)} s for ${int(an.last.items)} items`
        : `${anProj.toFixed(1)} s projected linearly from ${an.seconds.toFixed(2)} s for ${int(an.last.items)}${at}`,
    });
    const rss: Array<[string, number | null]> = [
      ['import', imp.maxRssMB],
      ['analysis', an.maxRssMB],
      ['stdio server', l?.stdioServerPeakRssMB.attest ?? null],
    ];
    const known = rss.filter((r): r is [string, number] => r[1] !== null);
    targets.push({
      target: 'peak RSS under 1 GiB',
      status: known.every(([, v]) => v < GiB_MB) ? 'PASS' : 'MISS',
      measured: `${known.map(([k, v]) => `${k} ${int(v)} MB`).join(', ')}${at}`,
    });
  } else {
    targets.push({
      target: 'import / analysis / peak RSS',
      status: 'n/a',
      measured: '--skip-load: not measured',
    });
  }

  // Linear growth: per-row costs and per-page latency at the largest size against the smallest.
  if (sizes.length >= 2) {
    const rows = scalingRows(sizes);
    for (const label of [
      'import µs/row (all files)',
      'analysis µs/item',
      'list first page, stdio p50 ms',
      'list middle page, stdio p50 ms',
      'list last page, stdio p50 ms',
      'get_user_activity stdio p50 ms',
      'check_sod stdio p50 ms',
    ]) {
      const row = rows.find((r) => r.label === label)!;
      const first = row.values[0];
      const last = row.values[row.values.length - 1];
      if (first === undefined || last === undefined) continue;
      const growth = last / first;
      targets.push({
        target: `costs grow linearly: ${label} at ${int(sizes[sizes.length - 1]!.users)} users within ${x(LINEAR_TOLERANCE)} of ${int(sizes[0]!.users)} users`,
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
  for (const tool of ['get_user_activity', 'check_sod']) {
    rows.push([tool, ...LAYERS.map((L) => cell(findCase(l, tool, L.layer, L.transport)))]);
  }
  for (const [tool, label] of [
    ['echo', 'echo (bare SDK server)'],
    ['echo-large', 'echo, list-sized text'],
  ] as const) {
    rows.push([
      label,
      ...LAYERS.slice(0, -2).map(() => ''),
      cell(findCase(l, tool, 'echo', 'memory')),
      cell(findCase(l, tool, 'echo', 'stdio')),
    ]);
  }
  const sizes = [
    `result size, bytes: list ${int(findCase(l, 'list_campaign_items', 'attest', 'memory', 'first')?.resultBytes ?? 0)}`,
    `get_user_activity ${int(findCase(l, 'get_user_activity', 'attest', 'memory')?.resultBytes ?? 0)}`,
    `check_sod ${int(findCase(l, 'check_sod', 'attest', 'memory')?.resultBytes ?? 0)}`,
    `echo ${int(findCase(l, 'echo', 'echo', 'memory')?.resultBytes ?? 0)}`,
    `list-sized echo ${int(findCase(l, 'echo-large', 'echo', 'memory')?.resultBytes ?? 0)} (the same text in the request)`,
  ].join(', ');
  return `${table(['p50 / p99 ms', ...LAYERS.map((L) => L.head)], rows, ['l', ...LAYERS.map(() => 'r' as const)])}\n${sizes}`;
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
          'rows/s',
          'import RSS MB',
          'items',
          'analysis s',
          'items/s',
          'analysis RSS MB',
          'runs',
          'store MB',
        ],
        loaded.map((s) => {
          const i = s.load!.import;
          const a = s.load!.analyze;
          return [
            int(s.users),
            int(i.last.assignments),
            int(i.last.totalRows),
            i.seconds.toFixed(2),
            int(i.last.totalRows / i.seconds),
            int(i.maxRssMB),
            int(a.last.items),
            a.seconds.toFixed(2),
            int(a.last.items / a.seconds),
            int(a.maxRssMB),
            String(i.runs),
            int(i.last.dbBytes / 1024 / 1024),
          ];
        }),
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
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
    const echoS = findCase(l, 'echo', 'echo', 'stdio');
    const echoL = findCase(l, 'echo-large', 'echo', 'stdio');
    const echoM = findCase(l, 'echo', 'echo', 'memory');
    const ratio = (tool: string, page: Page | null, transport: Transport, base: LatencyCase | undefined) => {
      const c = findCase(l, tool, 'attest', transport, page);
      return c && base ? x(c.figure.p50 / base.figure.p50) : '-';
    };
    const overhead = (tool: string, page: Page | null, base: Layer) => {
      const a = findCase(l, tool, 'attest', 'memory', page);
      const b = findCase(l, tool, base, 'memory', page);
      return a && b ? pct(a.figure.p50 / b.figure.p50 - 1) : '-';
    };
    const cases: Array<[string, string, Page | null]> = [
      ['list first', 'list_campaign_items', 'first'],
      ['list middle', 'list_campaign_items', 'middle'],
      ['list last', 'list_campaign_items', 'last'],
      ['get_user_activity', 'get_user_activity', null],
      ['check_sod', 'check_sod', null],
    ];
    out.push(
      '\n' +
        table(
          [
            'p50 ratios',
            'stdio ÷ echo stdio',
            'stdio ÷ list-sized echo stdio',
            'in-proc ÷ echo in-proc',
            'policy+audit vs no-policy',
            'audit vs no-audit',
          ],
          cases.map(([label, tool, page]) => [
            label,
            ratio(tool, page, 'stdio', echoS),
            ratio(tool, page, 'stdio', echoL),
            ratio(tool, page, 'memory', echoM),
            overhead(tool, page, 'no-policy'),
            overhead(tool, page, 'no-audit'),
          ]),
          ['l', 'r', 'r', 'r', 'r', 'r'],
        ),
    );
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

/**
 * Summarises a V8 .cpuprofile: the functions with the most self time.
 *   node dist-bench/bench/cpuprofile-top.js FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  share: number;
}

export function topSelfTime(path: string, n = 15): { totalMs: number; top: SelfTime[] } {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  // Fold nodes of the same function (same name and location) together.
  const folded = new Map<string, SelfTime>();
  let total = 0;
  for (const [id, us] of self) {
    total += us;
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '(native)';
    const fn = f.functionName || '(anonymous)';
    const key = `${fn} ${where}`;
    const e = folded.get(key) ?? { fn, where, ms: 0, share: 0 };
    e.ms += us / 1000;
    folded.set(key, e);
  }
  const top = [...folded.values()].sort((a, b) => b.ms - a.ms).slice(0, n);
  for (const e of top) e.share = total > 0 ? e.ms / (total / 1000) : 0;
  return { totalMs: total / 1000, top };
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const i = path.indexOf('/dist-bench/');
  if (i >= 0) return path.slice(i + 12);
  const j = path.indexOf('/node_modules/');
  if (j >= 0) return path.slice(j + 14);
  return basename(path);
}

export function formatTop(r: { totalMs: number; top: SelfTime[] }): string {
  const lines = [`  total sampled ${(r.totalMs / 1000).toFixed(1)} s; top self time:`];
  for (const e of r.top) {
    lines.push(
      `  ${(e.share * 100).toFixed(1).padStart(5)}%  ${(e.ms / 1000).toFixed(2).padStart(7)} s  ${e.fn}  ${e.where}`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist-bench/bench/cpuprofile-top.js FILE.cpuprofile [N]');
    process.exit(2);
  }
  console.log(formatTop(topSelfTime(file, Number(process.argv[3] ?? 20))));
}

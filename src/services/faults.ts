/**
 * Test-only crash points. With ATTEST_CRASH_AT=<n> the process kills itself (SIGKILL) the
 * n-th time it passes any crash point, so a test can stop an apply, an import or a sync at
 * a seeded random point and check that nothing was lost or done twice. With
 * ATTEST_CRASH_COUNT=<file> the number of points passed is written there at exit, so the
 * test knows the range to draw from. Without either variable a crash point costs a
 * property lookup.
 */
import { writeFileSync } from 'node:fs';

let passed = 0;
const at = Number(process.env.ATTEST_CRASH_AT ?? 0);
const countFile = process.env.ATTEST_CRASH_COUNT;

if (countFile) {
  process.once('exit', () => {
    writeFileSync(countFile, String(passed));
  });
}

export function crashPoint(_where: string): void {
  if (at === 0 && !countFile) return;
  passed++;
  if (at !== 0 && passed === at) process.kill(process.pid, 'SIGKILL');
}

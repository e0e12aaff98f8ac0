/** Where the benchmark keeps its cache and results, relative to the repository root. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs from dist-bench/bench/. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Compiled sources the benchmark exercises (dist-bench/src). */
export const DIST_SRC = join(ROOT, 'dist-bench', 'src');
/** Generated snapshot folders and loaded stores, reused between runs (git-ignored). */
export const CACHE_DIR = join(ROOT, 'bench', '.cache');
/** One JSON file per run (git-ignored). */
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
/** The built CLI, served over stdio. */
export const CLI = join(ROOT, 'dist', 'cli.js');
/** The bare echo server, served over stdio. */
export const ECHO_SERVER = join(ROOT, 'dist-bench', 'bench', 'echo-server.js');
/** The child-process entry for one measured phase. */
export const PHASE_WORKER = join(ROOT, 'dist-bench', 'bench', 'phase.js');

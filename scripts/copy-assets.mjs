// Copies non-TypeScript assets (SQL migrations of both stores) next to the compiled output.
// Usage: node scripts/copy-assets.mjs [outRoot]   (default dist)
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] ?? 'dist';
mkdirSync(join(root, 'store', 'migrations'), { recursive: true });
cpSync('src/store/migrations', join(root, 'store', 'migrations'), { recursive: true });
mkdirSync(join(root, 'store', 'pg', 'migrations'), { recursive: true });
cpSync('src/store/pg/migrations', join(root, 'store', 'pg', 'migrations'), { recursive: true });

// Regenerates the tool table in README.md from the tool registry (run after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
import { withToolsTable } from '../dist/tools/catalog.js';

const before = readFileSync('README.md', 'utf8');
const after = withToolsTable(before);
if (after !== before) {
  writeFileSync('README.md', after);
  process.stdout.write('README.md tool table updated\n');
} else process.stdout.write('README.md tool table is current\n');

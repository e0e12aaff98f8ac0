// Lets the MCP conformance CLI run on Node 20: it imports fs.globSync (Node >= 22) at load
// time, though only its tier-check command uses it. The hook hands it an fs with a stub.
import { register } from 'node:module';

register('./hook.mjs', import.meta.url);

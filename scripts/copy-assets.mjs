// The compiled services load their Lua scripts from next to their own module
// (new URL('./lua/x.lua', import.meta.url)); tsc does not copy them, so this does.
// It also writes dist/cli.js, the operator CLI's short name in the images (`node dist/cli.js …`,
// services/cli/main.ts): tsc emits it as dist/services/cli/main.js.
import { cpSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function copyLua(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copyLua(path);
    else if (name.endsWith('.lua')) cpSync(path, join('dist', path));
  }
}
copyLua('services');
// The services import the client SDK's modules (the wire's one definition: ids, room names,
// protocol constants — sdk/src/*.js with .d.ts beside them), which tsc does not emit: copied as-is.
cpSync('sdk/src', join('dist', 'sdk', 'src'), { recursive: true, filter: (src) => !src.endsWith('.d.ts') });
writeFileSync(join('dist', 'cli.js'), "// The operator CLI (services/cli/main.ts): node dist/cli.js help\nimport './services/cli/main.js';\n");

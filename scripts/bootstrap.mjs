#!/usr/bin/env node
// Plain JavaScript on purpose: this runs before dependencies (tsx, TypeScript) are installed, so that
// `npm start` and `npm test` work on a fresh clone. It installs what is missing, then hands over.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [task, ...rest] = process.argv.slice(2);
const TASKS = {
  start: { script: 'scripts/start.ts', system: ['redis-server'] },
  test: { script: 'scripts/test.ts', system: ['redis-server', 'chromium', 'kcat', 'python3-confluent-kafka'] },
};
const spec = TASKS[task];
if (!spec) {
  console.error(`usage: bootstrap.mjs ${Object.keys(TASKS).join('|')} [args]`);
  process.exit(2);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`Node ${process.versions.node} is too old: this project needs Node >= 20.19.`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  return r.status === 0;
}

// npm ci when node_modules is missing or older than the lock file.
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.log('Installing npm dependencies (npm ci)…');
  if (!run('npm', ['ci', '--no-audit', '--no-fund'])) process.exit(1);
}

// Debian packages the task needs, installed when we may (root, or sudo without a password), each with the file that
// shows it is there. kcat and the confluent-kafka module are the librdkafka clients of the broker's int tests; the
// module is installed for Debian's /usr/bin/python3, whatever python3 comes first on PATH.
const binaries = {
  'redis-server': '/usr/bin/redis-server',
  chromium: '/usr/bin/chromium',
  kcat: '/usr/bin/kcat',
  'python3-confluent-kafka': '/usr/lib/python3/dist-packages/confluent_kafka/__init__.py',
};
// The broker tests run exactly these two files, so another copy on PATH does not count for them.
const exactPath = new Set(['kcat', 'python3-confluent-kafka']);
const onPath = (bin) => !exactPath.has(bin) && (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, bin)));
const missing = spec.system.filter((bin) => !existsSync(binaries[bin]) && !onPath(bin));
const needRedis = missing.includes('redis-server') && (task === 'test' || !process.env.REDIS_URL);
const toInstall = missing.filter((bin) => bin !== 'redis-server' || needRedis);
if (toInstall.length > 0) {
  const asRoot = process.getuid?.() === 0;
  const sudo = !asRoot && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (asRoot || sudo) {
    console.log(`Installing ${toInstall.join(', ')} from Debian's packages…`);
    const cmd = asRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const aptGet = (args) => run(cmd[0], [...cmd.slice(1), ...args], { env });
    if (!aptGet(['update', '-qq']) || !aptGet(['install', '-y', '-qq', ...toInstall])) process.exit(1);
  } else {
    console.error(`Missing: ${toInstall.join(', ')}. Install with:\n  sudo apt-get update && sudo apt-get install -y ${toInstall.join(' ')}`);
    process.exit(1);
  }
}

// The source condition: workspace packages resolve to their TypeScript sources (scripts/lib/processes.ts, TSX_NODE_ARGS).
const child = spawn(process.execPath, ['--conditions=@shop/source', '--import', 'tsx', spec.script, ...rest], { stdio: 'inherit', cwd: root });
// Ctrl-C reaches the child through the terminal's process group; a signal sent to this pid alone is passed on.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

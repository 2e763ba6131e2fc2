/** `npm run token -- alice [--admin]` prints a development token signed with JWT_SECRET (or the dev default). */
import { loadConfig } from '../config.js';
import { signDevToken } from '../middleware/auth.js';

const args = process.argv.slice(2);
const sub = args.find((a) => !a.startsWith('--'));
if (!sub) {
  console.error('usage: npm run token -- <customer-id> [--admin]');
  process.exit(2);
}
const config = loadConfig();
if (config.production) {
  console.error('refusing to mint a development token with NODE_ENV=production');
  process.exit(1);
}
console.log(await signDevToken(config.auth, sub, args.includes('--admin') ? ['admin'] : []));

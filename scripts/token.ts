/**
 * `npm run token`: prints a dev bearer token (and nothing else), generating `.local/` on first use.
 *   curl -H "Authorization: Bearer $(npm run -s token)" …
 */
import { fileURLToPath } from 'node:url';
import { ensureLocalConfig } from './local/generate';
import { mintDevToken } from './local/token';

try {
  const { jwt } = await ensureLocalConfig(fileURLToPath(new URL('../.local', import.meta.url)));
  process.stdout.write(`${await mintDevToken(jwt)}\n`);
} catch (error) {
  process.stderr.write(`✗ ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

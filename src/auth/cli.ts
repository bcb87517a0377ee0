/**
 * `npm run keys -- <command>`: writes API_KEYS_FILE (or --file). The collector processes
 * pick the change up within AUTH_RELOAD_MS, no restart.
 *
 *   add --tenant <id> [--tenant <id> …] [--description <text>]   prints the new key once, on stdout
 *   revoke <key id>                                             the key stops working everywhere
 *   list                                                        ids, tenants, dates (no secrets: there are none to show)
 *   quota <tenant|*> --events-per-second <n> [--bytes-per-second <n>] [--burst-seconds <s>] | --remove
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readKeysFile, writeKeysFile, type KeysFile } from './keys-file.js';
import { digestOf, newKey, newKeyId } from './secret.js';
import { parseQuotas } from '../quota/policy.js';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`keys: ${msg}\n`);
  process.stderr.write(
    'usage: npm run keys -- [--file <path>] add --tenant <id> [--tenant <id>…] [--description <text>]\n' +
      '       npm run keys -- [--file <path>] revoke <key id>\n' +
      '       npm run keys -- [--file <path>] list\n' +
      '       npm run keys -- [--file <path>] quota <tenant|*> --events-per-second <n> [--bytes-per-second <n>] [--burst-seconds <s>] | --remove\n' +
      'The file defaults to $API_KEYS_FILE.\n',
  );
  process.exit(2);
}

function main(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      file: { type: 'string' },
      tenant: { type: 'string', multiple: true },
      description: { type: 'string' },
      'events-per-second': { type: 'string' },
      'bytes-per-second': { type: 'string' },
      'burst-seconds': { type: 'string' },
      remove: { type: 'boolean' },
    },
  });
  const file = values.file ?? process.env.API_KEYS_FILE;
  if (!file) usage('no file: pass --file or set API_KEYS_FILE');
  const [command, arg] = positionals;
  const load = (): KeysFile => (existsSync(file) ? readKeysFile(file) : { version: 1, keys: [] });

  switch (command) {
    case 'add': {
      const tenants = values.tenant ?? [];
      if (tenants.length === 0) usage('add needs at least one --tenant (or --tenant "*" for every tenant)');
      const keys = load();
      let id = newKeyId();
      while (keys.keys.some((k) => k.id === id)) id = newKeyId();
      const key = newKey(id);
      keys.keys.push({
        id, tenants, sha256: digestOf(key).toString('hex'), created_at: new Date().toISOString(),
        ...(values.description ? { description: values.description } : {}), revoked_at: null,
      });
      writeKeysFile(file, keys);
      process.stderr.write(`key ${id} added for tenant(s) ${tenants.join(', ')} in ${file}; the key is shown once, below:\n`);
      process.stdout.write(`${key}\n`);
      return;
    }
    case 'revoke': {
      if (!arg) usage('revoke needs a key id (see list)');
      const keys = load();
      const k = keys.keys.find((x) => x.id === arg);
      if (!k) usage(`no key with id '${arg}' in ${file}`);
      k.revoked_at ??= new Date().toISOString();
      writeKeysFile(file, keys);
      process.stderr.write(`key ${arg} revoked in ${file}\n`);
      return;
    }
    case 'list': {
      const keys = load();
      for (const k of keys.keys) {
        const state = k.revoked_at ? `revoked ${k.revoked_at}` : 'active';
        process.stdout.write(`${k.id}\t${k.tenants.join(',')}\t${k.created_at}\t${state}${k.description ? `\t${k.description}` : ''}\n`);
      }
      for (const [tenant, q] of Object.entries(keys.quotas ?? {})) process.stdout.write(`quota\t${tenant}\t${JSON.stringify(q)}\n`);
      return;
    }
    case 'quota': {
      if (!arg) usage('quota needs a tenant id (or "*" for every tenant without its own)');
      const keys = load();
      const quotas = { ...(keys.quotas ?? {}) };
      if (values.remove) delete quotas[arg];
      else {
        const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
        quotas[arg] = {
          events_per_second: num(values['events-per-second']) ?? 0,
          bytes_per_second: num(values['bytes-per-second']) ?? 0,
          ...(values['burst-seconds'] !== undefined ? { burst_seconds: num(values['burst-seconds']) } : {}),
        };
      }
      parseQuotas(quotas, file); // refuse to write what the collector would refuse to load
      keys.quotas = quotas;
      writeKeysFile(file, keys);
      process.stderr.write(values.remove ? `quota of ${arg} removed in ${file}\n` : `quota of ${arg} set in ${file}\n`);
      return;
    }
    default:
      usage(command ? `unknown command '${command}'` : undefined);
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`keys: ${(err as Error).message}\n`);
  process.exit(1);
}

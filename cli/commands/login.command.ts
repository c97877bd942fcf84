// `alliance-hub login` / `logout`: a password grant against the alliance realm; the tokens are
// stored (cli/credentials.ts, mode 0600) for the other commands, which renew them as needed.
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { ApiClient } from '../api-client';
import { CliError, type CliIO, type ConnectionOptions } from '../cli-context';
import { credentialsPath, saveLogin, storedLogin } from '../credentials';
import { passwordLogin, tokenUrlFor } from '../login/realm-login';
import { printJson } from '../output';

const VIEWER = `{ viewer { username isAllianceAdmin memberships { role tenant { slug name } } } }`;

interface Viewer {
  username: string;
  isAllianceAdmin: boolean;
  memberships: { role: string; tenant: { slug: string; name: string } }[];
}

function apiUrl(flags: ConnectionOptions, io: CliIO): string {
  return (flags.url ?? io.env.ALLIANCE_URL ?? 'http://localhost:4000').replace(/\/+$/, '');
}

/** Asks on the terminal without echoing (only when there is one). */
async function prompt(question: string, hidden: boolean): Promise<string> {
  if (!process.stdin.isTTY) throw new CliError(`${question.replace(/:\s*$/, '')} is needed: pass it as a flag (or ALLIANCE_PASSWORD)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.includes(question)) process.stderr.write(s);
  };
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
    if (hidden) process.stderr.write('\n');
  }
}

export function loginCommand(io: CliIO): Command {
  return new Command('login')
    .description('sign in to the alliance realm and store the token for the other commands')
    .option('-u, --username <name>', 'your alliance username (asked when absent)')
    .option('-p, --password <password>', 'your password (env ALLIANCE_PASSWORD; asked, hidden, when absent)')
    .option('--realm-url <url>', "the realm's origin (env ALLIANCE_REALM_URL; default: the one the API names)")
    .option('--default-tenant <slug>', 'acting tenant for later commands when none is given')
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const flags = command.optsWithGlobals<ConnectionOptions>();
      const url = apiUrl(flags, io);
      const username = opts.username ?? io.env.ALLIANCE_USERNAME ?? (io.interactive ? await prompt('username: ', false) : undefined);
      if (!username) throw new CliError('a username is needed: --username NAME');
      const password = opts.password ?? io.env.ALLIANCE_PASSWORD ?? (io.interactive ? await prompt('password: ', true) : undefined);
      if (!password) throw new CliError('a password is needed: --password, ALLIANCE_PASSWORD, or run on a terminal to be asked');
      const tokenUrl = await tokenUrlFor(url, opts.realmUrl ?? io.env.ALLIANCE_REALM_URL);
      const login = await passwordLogin(tokenUrl, username, password, opts.defaultTenant ?? flags.tenant);
      // The token works here (and provisions the user on first sign-in) before it is stored.
      const { viewer } = await new ApiClient({ url, token: login.accessToken, tenant: login.tenant }).gql<{ viewer: Viewer }>(VIEWER);
      if (login.tenant && !viewer.memberships.some((m) => m.tenant.slug === login.tenant)) {
        throw new CliError(`${username} is not a member of ${login.tenant}; member of: ${viewer.memberships.map((m) => m.tenant.slug).join(', ') || 'none'}`);
      }
      let file: string;
      try {
        file = saveLogin(io.env, url, login);
      } catch (err) {
        throw new CliError(`signed in, but the token cannot be stored: ${(err as Error).message}`);
      }
      if (opts.json) {
        printJson(io, { username: viewer.username, url, expiresAt: new Date(login.expiresAt).toISOString(), credentials: file,
          isAllianceAdmin: viewer.isAllianceAdmin, memberships: viewer.memberships.map((m) => ({ tenant: m.tenant.slug, role: m.role })) });
        return;
      }
      const tenants = viewer.memberships.map((m) => `${m.tenant.slug} (${m.role})`).join(', ') || 'none';
      io.stdout.write(`signed in to ${url} as ${viewer.username}${viewer.isAllianceAdmin ? ' (alliance admin)' : ''}; tenants: ${tenants}\n`);
      if (viewer.memberships.length > 1 && !login.tenant) {
        io.stderr.write('you belong to several tenants: pass --tenant SLUG to commands, or log in with --default-tenant SLUG\n');
      }
      io.stderr.write(`token stored in ${file}\n`);
    });
}

export function logoutCommand(io: CliIO): Command {
  return new Command('logout')
    .description('forget the stored sign-in for this API')
    .action(async (_opts, command: Command) => {
      const url = apiUrl(command.optsWithGlobals<ConnectionOptions>(), io);
      if (!storedLogin(io.env, url)) {
        io.stdout.write(`not signed in to ${url}${credentialsPath(io.env) ? '' : ' (no HOME to store sign-ins in)'}\n`);
        return;
      }
      saveLogin(io.env, url, null);
      io.stdout.write(`signed out of ${url}\n`);
    });
}

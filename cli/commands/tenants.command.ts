// `alliance-hub tenants`: the organisations you can act for (and, for alliance admins, all of them).
import { Command } from 'commander';
import { ApiClient } from '../api-client';
import { resolveConnection, type CliIO, type ConnectionOptions } from '../cli-context';
import { printJson, printTable } from '../output';

const TENANTS = `{ viewer { username isAllianceAdmin activeTenant { slug } memberships { role tenant { slug } } }
  tenants(first: 100) { edges { node { id slug name createdAt } } } }`;

interface TenantsAnswer {
  viewer: { username: string; isAllianceAdmin: boolean; activeTenant: { slug: string } | null; memberships: { role: string; tenant: { slug: string } }[] };
  tenants: { edges: { node: { id: string; slug: string; name: string; createdAt: string } }[] };
}

export function tenantsCommand(io: CliIO): Command {
  return new Command('tenants')
    .description('the tenants you belong to (alliance admins: every tenant); * marks the acting one')
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const connection = resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env);
      // Without --tenant a member of several tenants has no acting one: listing still works.
      const data = await new ApiClient(connection).gql<TenantsAnswer>(TENANTS);
      const roles = new Map(data.viewer.memberships.map((m) => [m.tenant.slug, m.role]));
      const acting = data.viewer.activeTenant?.slug ?? null;
      const rows = data.tenants.edges.map(({ node }) => ({ ...node, role: roles.get(node.slug) ?? null, acting: node.slug === acting }));
      if (opts.json) return printJson(io, rows);
      printTable(io, ['', 'SLUG', 'NAME', 'ROLE', 'SINCE'],
        rows.map((t) => [t.acting ? '*' : '', t.slug, t.name, t.role ?? (data.viewer.isAllianceAdmin ? '(admin)' : ''), t.createdAt.slice(0, 10)]));
    });
}

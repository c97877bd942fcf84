#!/usr/bin/env node
// The alliance-hub command line. Global flags (or ALLIANCE_URL / ALLIANCE_TOKEN /
// ALLIANCE_TENANT) say where and as whom; each command group lives in cli/commands/ and is
// added below.
import { Command } from 'commander';
import { CliError, processIO, type CliIO } from './cli-context';
import { datasetsCommand } from './commands/datasets.command';
import { jobsCommand, quotaCommand } from './commands/jobs.command';
import { endpointsCommand } from './commands/endpoints.command';
import { inferCommand } from './commands/infer.command';
import { loginCommand, logoutCommand } from './commands/login.command';
import { modelsCommand } from './commands/models.command';
import { tenantsCommand } from './commands/tenants.command';
import { usageCommand } from './commands/usage.command';
import { refreshBeforeCommands } from './login/realm-login';

export function buildProgram(io: CliIO): Command {
  const program = new Command('alliance-hub')
    .description('command line for the alliance hub: datasets, models, jobs')
    .option('--url <url>', 'API origin (env ALLIANCE_URL, default http://localhost:4000)')
    .option('--token <token>', 'access token from the alliance realm (env ALLIANCE_TOKEN)')
    .option('--tenant <slug>', 'acting tenant (env ALLIANCE_TENANT; needed with several memberships)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  program.addCommand(datasetsCommand(io));
  program.addCommand(jobsCommand(io));
  program.addCommand(quotaCommand(io));
  program.addCommand(loginCommand(io));
  program.addCommand(logoutCommand(io));
  program.addCommand(tenantsCommand(io));
  program.addCommand(modelsCommand(io));
  program.addCommand(endpointsCommand(io));
  program.addCommand(inferCommand(io));
  program.addCommand(usageCommand(io));
  program.hook('preAction', refreshBeforeCommands(io));
  // addCommand() does not pass exitOverride and the output settings down: without this a bad
  // option in a subcommand would exit the process (fatal in-process) and print to process.stderr.
  const inherit = (parent: Command) => parent.commands.forEach((c) => { c.copyInheritedSettings(parent); inherit(c); });
  inherit(program);
  return program;
}

/** Runs the CLI; resolves to the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv);
    return 0;
  } catch (err) {
    const exit = (err as { exitCode?: number; code?: string }).exitCode;
    if (typeof exit === 'number' && (err as { code?: string }).code?.startsWith('commander.')) return exit;
    if (err instanceof CliError) {
      io.stderr.write(`alliance-hub: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`alliance-hub: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => { process.exitCode = code; });
}

import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { openScreening } from '../../screening';
import { screeningRequestSchema, type Verdict } from '../../screening/verdict';
import { ctx, out } from '../context';

function readableVerdict(v: Verdict): string {
  const caller = v.caller.e164 ?? v.caller.shortCode ?? `(${v.caller.kind})`;
  const name = v.caller.displayName ? ` "${v.caller.displayName}"` : '';
  const head = `${v.verdict.toUpperCase()} score=${v.score}${v.brand ? ` brand=${v.brand}` : ''}${v.degraded ? ' DEGRADED' : ''} ${caller}${name}`;
  const reasons = v.reasons.map((r) => `  - ${r.code}${r.suppressed ? ' (suppressed)' : ''}: ${r.text.en}`);
  return [head, ...reasons].join('\n') + '\n';
}

async function screenCommand(opts: {
  from?: string;
  pai?: string;
  name?: string;
  to?: string;
  trunk?: string;
  verstat?: string;
  json?: boolean;
}): Promise<void> {
  const { config, logger } = ctx();
  const screening = await openScreening(config, logger);
  try {
    if (opts.from !== undefined) {
      const request = screeningRequestSchema.parse({
        from: opts.from,
        assertedIdentity: opts.pai,
        name: opts.name,
        to: opts.to,
        trunk: opts.trunk,
        verstat: opts.verstat,
      });
      const verdict = await screening.engine.screen(request);
      out(opts.json ? `${JSON.stringify(verdict)}\n` : readableVerdict(verdict));
      return;
    }
    // Bulk: one JSON request a line in, one JSON verdict (or error) a line out, in the same order.
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    let lineNo = 0;
    for await (const line of lines) {
      lineNo++;
      if (!line.trim()) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        out(`${JSON.stringify({ line: lineNo, error: 'not JSON' })}\n`);
        continue;
      }
      const request = screeningRequestSchema.safeParse(parsed);
      if (!request.success) {
        out(`${JSON.stringify({ line: lineNo, error: z.prettifyError(request.error).replace(/\n/g, ' ') })}\n`);
        continue;
      }
      const verdict = await screening.engine.screen(request.data);
      out(opts.json === false ? readableVerdict(verdict) : `${JSON.stringify(verdict)}\n`);
    }
  } finally {
    await screening.close();
  }
}

/** `spoofguard screen`: one caller ID, or JSON requests from stdin. */
export function screenCommands(program: Command): void {
  program
    .command('screen')
    .description('screen one caller ID, or JSON requests from stdin (one a line)')
    .option('--from <value>', 'caller ID: the From header value, a URI or a number')
    .option('--pai <value>', 'P-Asserted-Identity value(s), trusted as the trunk says')
    .option('--name <name>', 'display name as the switch shows it (screened beside the headers’ names)')
    .option('--to <called>', 'called number')
    .option('--trunk <id>', 'trunk id (its country and whether it is international)')
    .option(
      '--verstat <value>',
      'STIR/SHAKEN result of the trunk’s own verification service (TN-Validation-Passed, -Failed, No-TN-Validation); ignored on a trunk without `verification`',
    )
    .option('--json', 'print the verdict as JSON')
    .option('--no-json', 'in bulk mode, print readable lines')
    .action(screenCommand);
}

import { type Command, Option } from 'commander';
import { z } from 'zod';
import type { Config } from '../common/config';
import { InputError } from '../common/errors';
import { OUTCOMES } from '../domain/outcomes';
import { STIR_RESULTS } from '../domain/reason-codes';
import { calledNumberPolicy, type CallFilter } from '../flagged-log';
import { callFilterSchema } from '../flagged-log/calls-format';

/**
 * The flagged-call log's filters on the command line (`calls list`, `calls export`, `report`): the options,
 * and the filter they make, checked by the same schema as the console's query strings.
 */
export const withFilters = (command: Command, options: { brandRequired?: boolean } = {}): Command =>
  (options.brandRequired
    ? command.requiredOption('--brand <id>', 'the brand, e.g. amazon')
    : command.option('--brand <id>')
  )
    .option('--since <time>', 'received at or after (ISO 8601 or epoch ms)')
    .option('--until <time>', 'received before')
    .addOption(new Option('--verdict <verdict>').choices(['allow', 'warn', 'block']))
    .addOption(new Option('--outcome <outcome>').choices([...OUTCOMES]))
    .option('--reason <code>', 'a reason code, e.g. brand-number')
    .option('--caller <e164>', "the caller's number")
    .option('--called <number>', 'the called number (matched against its pseudonym)')
    .option('--sip-call-id <id>', "the caller's SIP Call-ID (every record of calls that used it)")
    .option('--channel-id <id>', 'the Asterisk channel id')
    .addOption(new Option('--stir <result>', 'our own STIR/SHAKEN result').choices([...STIR_RESULTS]))
    .addOption(
      new Option('--reported <yes|no>', "whether a report to the brand's abuse desk holds the call").choices([
        'yes',
        'no',
      ]),
    );

export function filterFrom(options: Record<string, string | undefined>, config: Config): CallFilter {
  const parsed = callFilterSchema.safeParse(
    Object.fromEntries(Object.entries(options).filter(([k, v]) => v !== undefined && k in callFilterSchema.shape)),
  );
  if (!parsed.success) throw new InputError(z.prettifyError(parsed.error));
  const filter: CallFilter = parsed.data;
  // the log holds called numbers as pseudonyms: look the given number up the same way
  if (filter.called) filter.called = calledNumberPolicy(config).apply(filter.called);
  return filter;
}

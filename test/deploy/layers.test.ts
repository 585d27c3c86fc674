import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/child';

/** `npm run lint` keeps the layers of services/: a lower folder never imports a higher one. */
describe('layers kept by lint', () => {
  // ESLint as `npm run lint` runs it (its flat config is an ES module, which jest's VM does not load)
  const problems = async (filePath: string, code: string): Promise<string[]> => {
    const run = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--stdin', '--stdin-filename', filePath, '-f', 'json'],
      { cwd: ROOT, input: code, encoding: 'utf8' },
    );
    const [result] = JSON.parse(run.stdout) as { messages: { ruleId: string | null; message: string }[] }[];
    return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  };

  it('refuses an import that runs up a layer', async () => {
    expect(
      await problems('services/common/x.ts', "import { runSip } from '../sip';\nexport const x = runSip;\n"),
    ).toEqual([expect.stringContaining('services/common may import only from domain')]);
    expect(
      await problems('services/screening/x.ts', "import { Spool } from '../events/spool';\nexport const x = Spool;\n"),
    ).toEqual([expect.stringContaining('services/screening may import only from domain, common')]);
    expect(
      await problems(
        'services/events/x.ts',
        "import { REASON_CODES } from '../screening/brand-data';\nexport const x = REASON_CODES;\n",
      ),
    ).toHaveLength(1);
    expect(
      await problems('services/screening/x.ts', "import { Queue } from 'bullmq';\nexport const x = Queue;\n"),
    ).toEqual([expect.stringContaining('no telephony, queue, HTTP or SQL library')]);
  });

  it('lets an import down the layers through', async () => {
    expect(
      await problems(
        'services/sip/x.ts',
        "import { REASON_CODES } from '../domain/reason-codes';\nexport const x = REASON_CODES;\n",
      ),
    ).toEqual([]);
    expect(await problems('services/cli/x.ts', "import { runSip } from '../sip';\nexport const x = runSip;\n")).toEqual(
      [],
    );
  });
});

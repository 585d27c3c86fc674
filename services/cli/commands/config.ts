import type { Command } from 'commander';
import { listSettings } from '../../common/config-schema';
import { ctx, out } from '../context';

/** `spoofguard config`: the effective configuration, secrets hidden. */
export function configCommand(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration (secrets hidden) and where each key can be overridden')
    .action(() => {
      const { config } = ctx();
      const secret = new Set(
        listSettings()
          .filter((s) => s.setting.secret)
          .map((s) => s.path),
      );
      const shown = JSON.parse(JSON.stringify(config)) as Record<string, Record<string, unknown>>;
      for (const path of secret) {
        const [a, b] = path.split('.');
        const value = b && shown[a] ? String(shown[a][b]) : '';
        if (value) shown[a][b] = /^\w+:\/\//.test(value) ? value.replace(/\/\/([^@/]*)@/, '//***@') : '***';
      }
      out(`${JSON.stringify(shown, null, 2)}\n`);
    });
}

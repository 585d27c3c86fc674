import { join } from 'node:path';
import { ROOT, runScript } from '../support/child';

/** A process with spoofguard's policy, where a promise rejects that nobody handles (an injected bug). */
function runWithInjectedRejection(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    const { installProcessPolicy } = require(${JSON.stringify(join(ROOT, 'services/common/process-policy'))});
    const { createLogger } = require(${JSON.stringify(join(ROOT, 'services/common/logger'))});
    const { Metrics } = require(${JSON.stringify(join(ROOT, 'services/common/metrics'))});
    installProcessPolicy(createLogger({ level: 'info' }));
    const metrics = new Metrics('test');
    void Promise.reject(new Error('injected failure'));
    // still serving: the metric says so once the rejection was seen
    const check = setInterval(async () => {
      const text = await metrics.text();
      if (/spoofguard_unhandled_rejections_total\\{[^}]*\\} 1/.test(text)) {
        clearInterval(check);
        process.stdout.write('still serving');
        process.exit(0);
      }
    }, 20);
  `;
  return runScript(script);
}

it('an unhandled rejection is logged with what went wrong, counted, and the process keeps serving', async () => {
  const result = await runWithInjectedRejection();
  expect(result.stdout).toBe('still serving');
  expect(result.code).toBe(0);
  const line = JSON.parse(result.stderr.split('\n').find((l) => l.includes('unhandled promise rejection')) ?? '{}');
  expect(line).toMatchObject({ level: 50, err: 'Error: injected failure' });
});

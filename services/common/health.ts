import { withinBudget } from './within-budget';

/**
 * Liveness and readiness of a process: live while the event loop runs; ready while every dependency it
 * registered (Redis, the log store) answers within a second. Shared by the console and the ops endpoint.
 */
export class Health {
  private readonly checks = new Map<string, () => Promise<unknown>>();

  add(name: string, check: () => Promise<unknown>): void {
    this.checks.set(name, check);
  }

  async ready(): Promise<{ ok: boolean; checks: Record<string, string> }> {
    const results = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await withinBudget(check(), 1000, `${name}: no answer`);
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, (err as Error).message] as const;
        }
      }),
    );
    return { ok: results.every(([, r]) => r === 'ok'), checks: Object.fromEntries(results) };
  }
}

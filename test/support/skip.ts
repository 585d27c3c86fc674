/**
 * A test that cannot run here says so loudly and is skipped, except under CI (CI=true, or the REQUIRE_* variable
 * named), where a test that cannot run is a failure: it never counts as passed by returning early.
 */
export function mustRunUnderCi(requireVariable?: string): boolean {
  return process.env.CI === 'true' || (requireVariable !== undefined && process.env[requireVariable] === '1');
}

/** `it` when the test can run; otherwise a loud SKIPPED line and it.skip, or a failing test under CI. */
export function itWhen(canRun: boolean, why: string, requireVariable?: string): jest.It {
  if (canRun) return it;
  if (mustRunUnderCi(requireVariable)) {
    const failing = (name: string) =>
      it(name, () => {
        throw new Error(`cannot run under CI: ${why}`);
      });
    return Object.assign(failing, {
      only: it.only,
      skip: it.skip,
      todo: it.todo,
      each: it.each,
      concurrent: it.concurrent,
      failing: it.failing,
    }) as unknown as jest.It;
  }
  // jest drops console output of a file whose tests are all skipped: this line must reach the terminal
  process.stderr.write(`\n!!! SKIPPED: ${why}\n`);
  return it.skip;
}

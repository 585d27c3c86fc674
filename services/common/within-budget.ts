/** Thrown when work did not finish within its time budget. */
export class BudgetExceededError extends Error {}

/** Settles with the work, or rejects with BudgetExceededError after budgetMs (the work itself goes on). */
export function withinBudget<T>(work: Promise<T>, budgetMs: number, what = 'no answer'): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new BudgetExceededError(`${what} within ${budgetMs} ms`)), budgetMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

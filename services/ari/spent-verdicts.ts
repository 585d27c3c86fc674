import type { Redis } from '../common/redis';
import { withinBudget } from '../common/within-budget';

/**
 * The verdict headers the ARI apps have used, by nonce, in Redis (shared by every app of a deployment), each
 * kept as long as a header lives: a header is good for one call, so a captured one replayed later is refused.
 */
export class SpentVerdicts {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    /** How long a nonce is kept: the header's max age on either side of now. */
    private readonly keepSec: number,
    /** The longest a call waits for Redis to answer. */
    private readonly budgetMs: number,
  ) {}

  /**
   * True on the header's first use, false when it was used before. Rejects when Redis does not answer within
   * the budget: then nobody can say, and the header is not trusted.
   */
  async spend(nonce: string): Promise<boolean> {
    const answer = await withinBudget(
      this.redis.set(`${this.keyPrefix}verdict-nonce:${nonce}`, '1', 'EX', this.keepSec * 2, 'NX'),
      this.budgetMs,
      'Redis did not answer the verdict nonce check',
    );
    return answer === 'OK';
  }
}

import type { Redis } from '../common/redis';
import type { ListKeys } from './list-keys';
import { NumberIndex } from './number-index';

/** Buckets read by one pipeline: replies small enough not to hold up the calls' look-ups on the same connection. */
const INDEX_READ_BATCH = 25;

/**
 * Reads the current generation's listed numbers and their meta ids into a NumberIndex, in small pipelines on
 * the call-path connection (the calls' look-ups go on between them). Undefined when an import replaced the
 * generation while it was read: its buckets may have been dropped half-way. Needs the `sgIndexStart` script
 * (ListStore defines it).
 */
export async function loadNumberIndex(
  redis: Redis,
  keys: ListKeys,
): Promise<{ index: NumberIndex; numbers: number } | undefined> {
  const call = redis as unknown as { sgIndexStart(key: string, tag: string): Promise<[string, string, number]> };
  const [genText, bucketsText, logLength] = await call.sgIndexStart(keys.state, keys.tag);
  const gen = Number(genText);
  const buckets = Number(bucketsText);
  let numbers = new Float64Array(1024);
  let ids = new Uint32Array(1024);
  let count = 0;
  for (let first = 0; first < buckets; first += INDEX_READ_BATCH) {
    const pipeline = redis.pipeline();
    const last = Math.min(first + INDEX_READ_BATCH, buckets);
    for (let b = first; b < last; b++) pipeline.hgetall(keys.bucket(gen, b));
    const replies = (await pipeline.exec()) ?? [];
    for (let i = 0; i < replies.length; i++) {
      const [err, hash] = replies[i];
      if (err) throw err;
      for (const [field, id] of Object.entries(hash as Record<string, string>)) {
        if (count === numbers.length) {
          const grownNumbers = new Float64Array(numbers.length * 2);
          grownNumbers.set(numbers);
          numbers = grownNumbers;
          const grownIds = new Uint32Array(ids.length * 2);
          grownIds.set(ids);
          ids = grownIds;
        }
        numbers[count] = Number(field) * buckets + first + i;
        ids[count++] = Number(id);
      }
    }
  }
  if (Number(await redis.hget(keys.state, 'gen')) !== gen) return undefined;
  return { index: NumberIndex.build(gen, numbers.slice(0, count), ids.slice(0, count), logLength), numbers: count };
}

import type { Config } from './config';
import type { VerdictKey } from './verdict-header';

/** The live verdict-header keys: the one that signs first, then the one before it (while a rotation rolls out). */
export function verdictKeys(config: Pick<Config, 'verdictHeader'>): VerdictKey[] {
  const { key, keyId, previousKey, previousKeyId } = config.verdictHeader;
  const keys: VerdictKey[] = [];
  if (key) keys.push({ id: keyId, key });
  if (previousKey) keys.push({ id: previousKeyId, key: previousKey });
  return keys;
}

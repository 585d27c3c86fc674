import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../services/common/config';
import { listSettings } from '../../services/common/config-schema';
import { ConfigError } from '../../services/common/errors';

describe('config', () => {
  it('loads the defaults from config/default.yaml', () => {
    const config = loadConfig({ env: {} });
    expect(config.screening.budgetMs).toBe(50);
    expect(config.redis.keyPrefix).toBe('sg:');
    expect(config.trunks[config.screening.defaultTrunk]).toBeDefined();
  });

  it('takes overrides from the environment, typed by the schema', () => {
    const config = loadConfig({
      env: {
        REDIS_URL: 'redis://cache.internal:6380/2',
        SPOOFGUARD_SCREENING_BUDGET_MS: '25',
        SPOOFGUARD_LOG_LEVEL: 'debug',
        SPOOFGUARD_TRUNKS: JSON.stringify({
          unknown: { country: 'AT', international: true, identityHeaders: ['From'] },
        }),
      },
    });
    expect(config.redis.url).toBe('redis://cache.internal:6380/2');
    expect(config.screening.budgetMs).toBe(25);
    expect(config.log.level).toBe('debug');
    expect(config.trunks.unknown).toMatchObject({ country: 'AT', international: true, mode: 'route' });
  });

  it('reads a file named by SPOOFGUARD_CONFIG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-config-'));
    const file = join(dir, 'site.yaml');
    writeFileSync(file, 'screening:\n  warnThreshold: 40\n');
    expect(loadConfig({ env: { SPOOFGUARD_CONFIG: file } }).screening.warnThreshold).toBe(40);
  });

  it.each([
    [
      { SPOOFGUARD_SCREENING_BUDGET_MS: 'soon' },
      /screening\.budgetMs \(env SPOOFGUARD_SCREENING_BUDGET_MS\): .*number/,
    ],
    [{ SPOOFGUARD_SCREENING_BUDGET_MS: '0' }, /screening\.budgetMs .*>=1/],
    [
      { REDIS_URL: 'http://x' },
      /redis\.url \(env REDIS_URL\): a redis:\/\/, rediss:\/\/, redis\+sentinel:\/\/ or redis\+cluster:\/\/ URL/,
    ],
    [{ SPOOFGUARD_LOG_LEVEL: 'loud' }, /log\.level .*expected one of/],
    [{ SPOOFGUARD_REDIS_KEY_PREFIX: 'a b' }, /redis\.keyPrefix .*1-32 characters/],
    [
      { SPOOFGUARD_TRUNKS: '{"x":{"country":"Germany","international":false,"identityHeaders":["From"]}}' },
      /trunks\.x\.country .*two-letter ISO country code/,
    ],
    [{ SPOOFGUARD_TRUNKS: '{not json' }, /SPOOFGUARD_TRUNKS must be JSON/],
    [{ SPOOFGUARD_SCREENING_DEFAULT_TRUNK: 'nowhere' }, /screening\.defaultTrunk: names trunk "nowhere"/],
    [{ SPOOFGUARD_SCREENING_BLOCK_THRESHOLD: '10' }, /blockThreshold: must be above screening\.warnThreshold/],
  ])('rejects %j with a message naming the key', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('takes session timers off (0) or from 90 s (RFC 4028 Min-SE) up to a day, nothing between', () => {
    expect(loadConfig({ env: {} }).sip.sessionExpiresSec).toBe(1800);
    expect(loadConfig({ env: {}, overrides: { sip: { sessionExpiresSec: 0 } } }).sip.sessionExpiresSec).toBe(0);
    expect(() => loadConfig({ env: {}, overrides: { sip: { sessionExpiresSec: 30 } } })).toThrow(/0, or 90 to 86400/);
    expect(() => loadConfig({ env: {}, overrides: { sip: { sessionExpiresSec: 90_000 } } })).toThrow(ConfigError);
  });

  it('rejects unknown keys in files (a typo must not be ignored)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-config-'));
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'screening:\n  budgetMS: 10\n');
    expect(() => loadConfig({ env: { SPOOFGUARD_CONFIG: file } })).toThrow(/screening: Unrecognized key: "budgetMS"/);
  });

  it('gives every key a doc and an environment variable', () => {
    const settings = listSettings();
    expect(settings.length).toBeGreaterThan(5);
    for (const s of settings) {
      expect(s.setting.doc.length).toBeGreaterThan(10);
      expect(s.env).toMatch(/^[A-Z_]+$/);
    }
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type Config, configSpec, isSetting, listSettings } from './config-schema';
import { ConfigError } from './errors';
import { fromPackageRoot } from './package-root';

export type { Config } from './config-schema';

type Plain = Record<string, unknown>;

export interface LoadConfigOptions {
  /** Environment to read overrides from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Extra YAML files applied after config/default.yaml and config/local.yaml. */
  files?: string[];
  /** Values applied last (tests, CLI flags), as a nested object. */
  overrides?: Plain;
}

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepMerge(base: Plain, extra: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    out[key] = isPlain(value) && isPlain(out[key]) ? deepMerge(out[key] as Plain, value) : value;
  }
  return out;
}

function readYaml(file: string): Plain {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed == null) return {};
  if (!isPlain(parsed)) throw new ConfigError(`config file ${file} must hold a mapping at the top level`);
  return parsed;
}

function setPath(target: Plain, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isPlain(node[key])) node[key] = {};
    node = node[key] as Plain;
  }
  node[keys[keys.length - 1]] = value;
}

/** Environment values are text: numbers, booleans and structures are read according to the key's format. */
function fromEnvText(text: string, format: z.ZodType, name: string): unknown {
  const kind = format instanceof z.ZodNumber ? 'number' : format instanceof z.ZodBoolean ? 'boolean' : undefined;
  if (kind === 'number') return text.trim() === '' ? text : Number(text);
  if (kind === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(text)) return true;
    if (/^(false|0|no|off)$/i.test(text)) return false;
    return text;
  }
  if (format instanceof z.ZodRecord || format instanceof z.ZodArray || format instanceof z.ZodObject) {
    try {
      return JSON.parse(text);
    } catch {
      throw new ConfigError(`config: ${name} must be JSON`);
    }
  }
  return text;
}

function buildSchema(node: unknown): z.ZodType {
  if (isSetting(node as never)) return (node as { format: z.ZodType }).format;
  return z.strictObject(Object.fromEntries(Object.entries(node as Plain).map(([k, v]) => [k, buildSchema(v)])));
}

const rootSchema = buildSchema(configSpec);

/** Reads config/default.yaml, config/local.yaml, SPOOFGUARD_CONFIG, extra files, env and overrides; validates once. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const files = [fromPackageRoot('config/default.yaml')];
  if (existsSync(fromPackageRoot('config/local.yaml'))) files.push(fromPackageRoot('config/local.yaml'));
  if (env.SPOOFGUARD_CONFIG) files.push(env.SPOOFGUARD_CONFIG);
  files.push(...(options.files ?? []));

  let raw: Plain = {};
  for (const file of files) {
    if (!existsSync(file)) throw new ConfigError(`config file ${file} does not exist`);
    raw = deepMerge(raw, readYaml(file));
  }
  for (const { path, env: name, setting } of listSettings()) {
    const text = env[name];
    if (text !== undefined) setPath(raw, path, fromEnvText(text, setting.format, name));
  }
  if (options.overrides) raw = deepMerge(raw, options.overrides);

  const result = rootSchema.safeParse(raw);
  if (!result.success) {
    const envByPath = new Map(listSettings().map((s) => [s.path, s.env]));
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.join('.');
      const settingPath = [...envByPath.keys()].find((p) => path === p || path.startsWith(`${p}.`));
      const envHint = settingPath ? ` (env ${envByPath.get(settingPath)})` : '';
      return `  ${path || '(root)'}${envHint}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data as Config;
  checkCrossKeyRules(config);
  return config;
}

function checkCrossKeyRules(config: Config): void {
  const problems: string[] = [];
  if (config.screening.blockThreshold <= config.screening.warnThreshold) {
    problems.push('  screening.blockThreshold: must be above screening.warnThreshold');
  }
  if (!config.trunks[config.screening.defaultTrunk]) {
    problems.push(
      `  screening.defaultTrunk: names trunk "${config.screening.defaultTrunk}", which trunks does not define`,
    );
  }
  if (/^rediss?\+cluster:/.test(config.redis.url) && !/\{[^}]+\}/.test(config.queue.prefix)) {
    problems.push(
      '  queue.prefix: with redis+cluster:// it needs a hash tag such as {sgq}, so each queue lives on one node',
    );
  }
  if (/^rediss?\+cluster:/.test(config.redis.url) && config.queue.replicasToAck > 0) {
    problems.push(
      '  queue.replicasToAck: needs one primary (redis:// or redis+sentinel://); a Cluster client cannot WAIT on the node of the queue',
    );
  }
  const header = config.verdictHeader;
  if (header.previousKey && header.previousKeyId === header.keyId)
    problems.push('  verdictHeader.previousKeyId: must differ from verdictHeader.keyId (each live key has its own id)');
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}

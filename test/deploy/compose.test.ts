import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../services/common/config';
import { listSettings } from '../../services/common/config-schema';
import { ROOT } from '../support/child';

/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is checked as data: it parses, every file it
 * mounts or builds from exists, every variable it sets is a configuration key whose value the schema accepts,
 * every ${VAR} it needs is in .env.example, and the ports agree with the configs they meet.
 */
interface Service {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  env_file?: string;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
  network_mode?: string;
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = Object.entries(compose.services);
const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');
const exampleVars = new Map(
  [...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]),
);
const settingEnv = new Set(listSettings().map((s) => s.env));
const ROLES = ['ari', 'sip', 'worker', 'console', 'serve'];

it('has the full stack, each service with a health check', () => {
  expect(Object.keys(compose.services).sort()).toEqual(
    ['asterisk', 'ari', 'console', 'drachtio', 'postgres', 'redis', 'sip', 'worker'].sort(),
  );
  for (const [name, service] of services)
    expect([name, Boolean(service.healthcheck) || name === 'asterisk']).toEqual([name, true]);
  // Asterisk's health check is in its image
  expect(readFileSync(join(ROOT, 'asterisk', 'Dockerfile'), 'utf8')).toMatch(/^HEALTHCHECK /m);
  expect(compose.services.redis.command).toEqual(
    expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']),
  );
  expect(compose.services.postgres.profiles).toEqual(['postgres']);
  expect(compose.services.drachtio.image).toMatch(/^drachtio\/drachtio-server:/);
});

it('builds from files that exist and mounts files that exist', () => {
  for (const [name, service] of services) {
    if (service.build) expect([name, existsSync(join(ROOT, service.build, 'Dockerfile'))]).toEqual([name, true]);
    for (const volume of service.volumes ?? []) {
      const [source] = volume.split(':');
      if (source?.startsWith('./'))
        expect([name, source, existsSync(join(ROOT, source))]).toEqual([name, source, true]);
      else expect([name, source, source && source in compose.volumes]).toEqual([name, source, true]);
    }
    if (service.env_file) expect(service.env_file).toBe('.env'); // from .env.example, never committed
  }
});

it('runs each spoofguard role from the one image with a known command', () => {
  const roles = services.filter(([, s]) => s.image === 'spoofguard:local');
  expect(roles.map(([name]) => name).sort()).toEqual(['ari', 'console', 'sip', 'worker']);
  for (const [name, service] of roles) {
    expect(service.build).toBe('.');
    expect([name, ROLES.includes(service.command?.[0] ?? '')]).toEqual([name, true]);
  }
});

it('sets only configuration variables, with values the schema accepts; secrets come from .env', () => {
  const secrets = listSettings()
    .filter((s) => s.setting.secret)
    .map((s) => s.env);
  for (const [name, service] of services.filter(([, s]) => s.image === 'spoofguard:local')) {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      expect([name, key, settingEnv.has(key)]).toEqual([name, key, true]);
      // a secret in the compose file itself would be committed
      if (secrets.includes(key) && key !== 'REDIS_URL')
        expect([name, key, value]).toEqual([name, key, expect.stringMatching(/^\$\{/)]);
      env[key] = value;
    }
    // what .env.example names must be configuration too; fill its secrets with stand-ins
    for (const key of exampleVars.keys()) {
      if (key.startsWith('SPOOFGUARD_') || key === 'DATABASE_URL')
        expect([key, settingEnv.has(key)]).toEqual([key, true]);
    }
    env.SPOOFGUARD_VERDICT_HEADER_KEY = 'x'.repeat(32);
    env.SPOOFGUARD_ARI_PASSWORD = 'stand-in';
    env.SPOOFGUARD_CONSOLE_TOKENS = exampleVars.get('SPOOFGUARD_CONSOLE_TOKENS');
    expect(() => loadConfig({ env })).not.toThrow();
  }
});

it('every ${VAR} compose needs is in .env.example', () => {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  const needed = [...text.matchAll(/\$\{([A-Z0-9_]+)(?::[?-][^}]*)?\}/g)].map((m) => m[1]);
  expect(needed.length).toBeGreaterThan(0);
  for (const name of needed) expect([name, exampleVars.has(name as string)]).toEqual([name, true]);
});

it('ports agree with the configs they meet', () => {
  const { console: consoleService, ari, sip, asterisk } = compose.services;
  const healthPort = (s: Service) => /127\.0\.0\.1:(\d+)\/health\/ready/.exec(s.healthcheck?.test.join(' ') ?? '')?.[1];
  expect(consoleService.ports).toEqual([`127.0.0.1:${consoleService.environment?.SPOOFGUARD_CONSOLE_PORT}:8080`]);
  expect(healthPort(consoleService)).toBe(consoleService.environment?.SPOOFGUARD_CONSOLE_PORT);
  for (const s of [ari, sip, compose.services.worker]) expect(healthPort(s)).toBe(s.environment?.SPOOFGUARD_OPS_PORT);
  // ARI: the URL the role uses is the port Asterisk's http.conf binds
  const httpConf = readFileSync(join(ROOT, 'asterisk', 'http.conf'), 'utf8');
  expect(ari.environment?.SPOOFGUARD_ARI_URL).toBe(`http://asterisk:${/^bindport\s*=\s*(\d+)/m.exec(httpConf)?.[1]}`);
  expect(asterisk.ports).toEqual([
    `${/^bind\s*=\s*[\d.]+:(\d+)/m.exec(readFileSync(join(ROOT, 'asterisk', 'pjsip.conf'), 'utf8'))?.[1]}:5060/udp`,
  ]);
  // drachtio: the admin port in its config is the one the sip role connects to (the default)
  const drachtioConf = readFileSync(join(ROOT, 'config', 'drachtio.conf.xml'), 'utf8');
  const defaults = loadConfig({ env: {} });
  expect(/<admin port="(\d+)"/.exec(drachtioConf)?.[1]).toBe(String(defaults.sip.drachtioPort));
  expect(drachtioConf).toContain('secret="change-me-drachtio"');
  expect(compose.services.drachtio.entrypoint?.join(' ')).toContain('change-me-drachtio');
  // the ARI password placeholder Asterisk's entrypoint replaces is the one in ari.conf
  expect(readFileSync(join(ROOT, 'asterisk', 'ari.conf'), 'utf8')).toMatch(/^password = change-me$/m);
  expect(readFileSync(join(ROOT, 'asterisk', 'docker-entrypoint.sh'), 'utf8')).toContain('s/change-me/');
});

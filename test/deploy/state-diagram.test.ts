import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRANSITIONS } from '../../services/ari/session-states';

/** docs/ARCHITECTURE.md draws the ARI call session's transition table: edge for edge, event for event. */
it("the ARI call session's diagram in docs/ARCHITECTURE.md is its transition table", () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'ARCHITECTURE.md'), 'utf8');
  const diagram = /```mermaid\nstateDiagram-v2\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const drawn = new Set(
    [...diagram.matchAll(/^\s*(\w+) --> (\w+): ([\w-]+)/gm)]
      .filter(([, from, to]) => from !== '[*]' && to !== '[*]')
      .map(([, from, to, event]) => `${from} --${event}--> ${to}`),
  );
  const state = (s: string): string => s.replace('-', '_');
  const table = new Set(
    Object.entries(TRANSITIONS).flatMap(([event, t]) =>
      t.from.map((from) => `${state(from)} --${event}--> ${state(t.to)}`),
    ),
  );
  expect([...drawn].filter((edge) => !table.has(edge))).toEqual([]);
  expect([...table].filter((edge) => !drawn.has(edge))).toEqual([]);
});

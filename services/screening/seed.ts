import type { BrandFile } from './brand-data';
import type { ListEntry } from './list-entry';
import { normalizeNumber } from './normalize';
import { InputError } from '../common/errors';

/**
 * Turns brand files into list entries. Entries carry origin "seed" and the file's own dates, so seeding
 * twice gives the same lists, and a number removed from a file disappears on the next seed.
 */
export function seedEntries(brands: readonly BrandFile[]): ListEntry[] {
  const entries: ListEntry[] = [];
  for (const brand of brands) {
    for (const n of brand.numbers) {
      const number = normalizeNumber(n.number, { country: n.country, international: false });
      if (!number?.digits || !number.valid) {
        throw new InputError(`brand ${brand.brand}: "${n.number}" is not a valid ${n.country} number`);
      }
      entries.push({
        kind: 'number',
        value: number.digits,
        brand: brand.brand,
        label: `${n.label} ${n.country}`.slice(0, 60),
        source: n.source,
        origin: 'seed',
        addedAt: Date.parse(n.checked),
        verified: n.verified,
      });
    }
    for (const p of brand.prefixes) {
      entries.push({
        kind: 'prefix',
        value: p.prefix.slice(1),
        brand: brand.brand,
        label: p.label,
        source: p.source,
        origin: 'seed',
        addedAt: Date.parse(p.checked),
        verified: p.verified,
      });
    }
    for (const name of brand.names) {
      entries.push({
        kind: 'name',
        value: name.pattern,
        match: name.match,
        brand: brand.brand,
        source: `config/brands/${brand.brand}.yaml`,
        origin: 'seed',
        addedAt: 0,
      });
    }
  }
  return entries;
}

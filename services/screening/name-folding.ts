import { RecentCache } from './recent-cache';

/**
 * Folds display names so that spelling tricks do not get past a pattern: case, accents, zero-width and
 * spacing characters, and look-alike letters (digits, symbols, Cyrillic and Greek homoglyphs).
 */
const LOOK_ALIKES: Record<string, string> = {
  '0': 'o',
  '1': 'l',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '8': 'b',
  '@': 'a',
  $: 's',
  '|': 'l',
  '!': 'i',
  // Cyrillic
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ї: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ո: 'n',
  ᴢ: 'z',
  ɑ: 'a',
  ɡ: 'g',
  ı: 'i',
  // Greek
  α: 'a',
  β: 'b',
  ε: 'e',
  ζ: 'z',
  η: 'n',
  ι: 'i',
  κ: 'k',
  μ: 'm',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
};

export interface FoldedName {
  /** Letters only, no spaces: "Amaz0n Prime" → "amazonprime". */
  compact: string;
  /** The folded words: ["amazon", "prime"]. */
  words: string[];
}

export function foldName(name: string): FoldedName {
  const lowered = name
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\p{M}\p{Cf}]/gu, '');
  let mapped = '';
  for (const ch of lowered) mapped += LOOK_ALIKES[ch] ?? ch;
  const words = mapped.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  return { compact: words.join(''), words };
}

export type NameMatch = 'contains' | 'word';

export interface NamePatternLike {
  pattern: string;
  match: NameMatch;
}

const foldedNames = new RecentCache<FoldedName>(20_000);

export class NameMatcher<P extends NamePatternLike> {
  private readonly compiled: { entry: P; folded: string }[];

  constructor(patterns: readonly P[]) {
    // Longer patterns first: "Amazon Kundenservice" explains a match better than "Amazon".
    this.compiled = patterns
      .map((entry) => ({ entry, folded: foldName(entry.pattern).compact }))
      .filter((p) => p.folded.length > 0)
      .sort((a, b) => b.folded.length - a.folded.length);
  }

  get size(): number {
    return this.compiled.length;
  }

  match(name: string | undefined): P | undefined {
    if (!name || this.compiled.length === 0) return undefined;
    // display names repeat a lot ("WIRELESS CALLER", "Amazon"): folding is the costly part
    const folded = foldedNames.get(name, () => foldName(name.slice(0, 256)));
    for (const { entry, folded: pattern } of this.compiled) {
      if (entry.match === 'contains' ? folded.compact.includes(pattern) : folded.words.includes(pattern)) return entry;
    }
    return undefined;
  }
}

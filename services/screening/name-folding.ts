import unhomoglyph from 'unhomoglyph';
import { RecentCache } from '../common/recent-cache';

/**
 * How display names are matched against brand name patterns (docs/SCREENING.md, "Name matching"):
 *
 * 1. Fold every character: Unicode compatibility forms (NFKC: full-width, ligatures), case, accents and
 *    invisible characters are dropped, and look-alike letters become the letters they imitate by Unicode's
 *    confusables table (TR39 skeletons, via `unhomoglyph`: Cyrillic "а", Greek "Ο", "0" → o, "1" → l,
 *    "m" ≈ "rn" …), plus the few digit and symbol spellings that table leaves out ("4" → a, "3" → e, "@" → a).
 * 2. Split into words at spaces, punctuation and symbols, at a change from lower to upper case ("AmazonService")
 *    and between letters and a number of two or more digits ("Amazon24"); a single digit among letters is a
 *    look-alike ("Amaz0n"), not a boundary.
 * 3. A pattern matches whole words only: it must equal one word or a run of neighbouring words joined
 *    ("A m a z o n", "Ama-zon", "Amazon Kundenservice" → "amazonkundenservice"). A brand inside a longer word
 *    ("Amazonas", "Mamazone") does not match. Patterns marked `contains` (opt-in, for names that cannot be
 *    part of an ordinary word) match anywhere in the joined words.
 */
const SPELLINGS: Record<string, string> = {
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '8': 'b',
  '@': 'a',
  $: 's',
  '!': 'i',
  '€': 'e',
};

/** Folding is linear, but the names a pattern can match are short: the rest of a padded name is not read. */
export const MAX_FOLDED_LENGTH = 1024;

export interface FoldedName {
  /** The words joined: "Amaz0n Prime" → "arnazonprirne" (skeletons, so "m" reads as "rn"). */
  compact: string;
  /** The folded words. */
  words: string[];
  /**
   * joinable[i]: word i and word i + 1 may be read as one ("A m a z o n", "Ama-zon"). Not after an initial
   * ("A. Mazon", "A Mazon": a single letter before a longer word with a period or a capital is an initial).
   */
  joinable: boolean[];
}

const skeleton = (text: string): string => unhomoglyph(unhomoglyph(text).toLowerCase()).toLowerCase();

/** Skeletons are case-sensitive ("Ο" and "ο" both read as o, but "ΑΜΑΖΟΝ" only in upper case): fold, lower, fold. */
function foldCharacters(text: string): string {
  let mapped = '';
  for (const ch of text.normalize('NFD').replace(/[\p{M}\p{Cf}]/gu, '')) mapped += SPELLINGS[ch] ?? ch;
  return skeleton(mapped);
}

const WORD = /[^\s\p{P}\p{Z}\p{S}\p{C}]+/gu;

export function foldName(name: string): FoldedName {
  const text = name
    .slice(0, MAX_FOLDED_LENGTH)
    .normalize('NFKC')
    .replace(/[\p{Cf}]/gu, '')
    // a symbol that spells a letter inside a word or at its start is that letter ("Am@zon", "@mazon")
    .replace(/(?<=\p{L})[@$€!](?=\p{L})|(?<![\p{L}\p{N}])[@$€](?=\p{L})/gu, (ch) => SPELLINGS[ch])
    .replace(/(\p{Ll})(?=\p{Lu})/gu, '$1 ')
    .replace(/(\p{L})(?=\d{2})/gu, '$1 ')
    .replace(/(\d{2})(?=\p{L})/gu, '$1 ');
  const words: string[] = [];
  const joinable: boolean[] = [];
  let previous: { raw: string; end: number } | undefined;
  for (const m of text.matchAll(WORD)) {
    const folded = foldCharacters(m[0]).replace(/[^\p{L}\p{N}]+/gu, '');
    if (!folded) continue;
    if (previous) {
      const initial =
        [...previous.raw].length === 1 &&
        /\p{L}/u.test(previous.raw) &&
        [...m[0]].length > 1 &&
        (text.slice(previous.end, m.index).includes('.') || /^\p{Lu}\p{Ll}/u.test(m[0]));
      joinable.push(!initial);
    }
    words.push(folded);
    previous = { raw: m[0], end: m.index + m[0].length };
  }
  joinable.push(false);
  return { compact: words.join(''), words, joinable };
}

export type NameMatch = 'contains' | 'word';

export interface NamePatternLike {
  pattern: string;
  match: NameMatch;
}

const foldedNames = new RecentCache<FoldedName>(20_000);

export class NameMatcher<P extends NamePatternLike> {
  /** Whole-word patterns by their folded form; the longer of two entries folding alike is kept. */
  private readonly words = new Map<string, P>();
  private readonly contains: { entry: P; folded: string }[];
  private readonly longestWord: number;

  constructor(patterns: readonly P[]) {
    const compiled = patterns
      .map((entry) => ({ entry, folded: foldName(entry.pattern).compact }))
      .filter((p) => p.folded.length > 0)
      // longer patterns first: "Amazon Kundenservice" explains a match better than "Amazon"
      .sort((a, b) => b.folded.length - a.folded.length);
    for (const p of compiled)
      if (p.entry.match === 'word' && !this.words.has(p.folded)) this.words.set(p.folded, p.entry);
    this.contains = compiled.filter((p) => p.entry.match === 'contains');
    this.longestWord = Math.max(0, ...[...this.words.keys()].map((w) => w.length));
  }

  get size(): number {
    return this.words.size + this.contains.length;
  }

  match(name: string | undefined): P | undefined {
    if (!name || this.size === 0) return undefined;
    // display names repeat a lot ("WIRELESS CALLER", "Amazon"): folding is the costly part
    const folded = foldedNames.get(name.length > MAX_FOLDED_LENGTH ? name.slice(0, MAX_FOLDED_LENGTH) : name, () =>
      foldName(name),
    );
    for (const { entry, folded: pattern } of this.contains) if (folded.compact.includes(pattern)) return entry;
    return this.matchWords(folded);
  }

  /** The longest pattern equal to a word or to a run of neighbouring words that may be read as one. */
  private matchWords({ words, joinable }: FoldedName): P | undefined {
    let best: { entry: P; length: number } | undefined;
    for (let i = 0; i < words.length; i++) {
      let joined = '';
      for (let j = i; j < words.length; j++) {
        joined += words[j];
        if (joined.length > this.longestWord) break;
        const entry = this.words.get(joined);
        if (entry && (!best || joined.length > best.length)) best = { entry, length: joined.length };
        if (!joinable[j]) break;
      }
    }
    return best?.entry;
  }
}

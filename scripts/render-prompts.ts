/**
 * npm run prompts: renders config/prompts/<lang>.yaml with espeak-ng and sox into asterisk/sounds/<lang>/spoofguard/
 * as 8 kHz mono WAV (.wav) and 16 kHz signed linear (.sln16), formats Asterisk plays without transcoding.
 * Needs the Debian packages espeak-ng and sox. The rendered files are committed, so deployments need neither.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPromptTexts, PROMPT_LANGUAGES } from '../services/ari/prompts';
import { fromPackageRoot } from '../services/common/package-root';

const VOICES: Record<string, string> = { de: 'de', en: 'en-gb' };
/** 8 kHz mono WAV, and 16 kHz signed linear without a header (sln16). */
const FORMATS: [string, string, string[]][] = [
  ['wav', '8000', []],
  ['sln16', '16000', ['-t', 'raw']],
];
const work = mkdtempSync(join(tmpdir(), 'sg-prompts-'));
try {
  for (const lang of PROMPT_LANGUAGES) {
    const out = fromPackageRoot(`asterisk/sounds/${lang}/spoofguard`);
    mkdirSync(out, { recursive: true });
    for (const [name, text] of Object.entries(loadPromptTexts(lang))) {
      const raw = join(work, `${lang}-${name}.wav`);
      // a calm pace (150 words/min) and a little pause between sentences
      execFileSync('espeak-ng', ['-v', VOICES[lang], '-s', '150', '-g', '4', '-w', raw, text]);
      for (const [ext, rate, type] of FORMATS) {
        execFileSync('sox', [
          raw,
          '-r',
          rate,
          '-c',
          '1',
          '-b',
          '16',
          '-e',
          'signed-integer',
          ...type,
          join(out, `${name}.${ext}`),
          'norm',
          '-3',
        ]);
      }
      process.stdout.write(`${lang}/${name}\n`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

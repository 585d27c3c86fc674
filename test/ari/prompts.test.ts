import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadPromptTexts, PROMPT_LANGUAGES, Prompts } from '../../services/ari/prompts';
import { ROOT } from '../support/child';

describe('prompts', () => {
  it('every prompt text is rendered in every language, in both formats', () => {
    for (const lang of PROMPT_LANGUAGES) {
      for (const name of Object.keys(loadPromptTexts(lang))) {
        for (const ext of ['wav', 'sln16'])
          expect(existsSync(join(ROOT, 'asterisk/sounds', lang, 'spoofguard', `${name}.${ext}`))).toBe(true);
      }
    }
  });

  it('both languages define the same prompts', () => {
    expect(Object.keys(loadPromptTexts('de')).sort()).toEqual(Object.keys(loadPromptTexts('en')).sort());
  });

  it('picks the brand warning, the police warning, or the generic one', () => {
    const prompts = new Prompts();
    expect(prompts.warning('amazon', ['brand-number'])[0]).toBe('sound:spoofguard/warning-amazon');
    expect(prompts.warning(undefined, ['emergency-caller-id'])[0]).toBe('sound:spoofguard/warning-police');
    expect(prompts.warning('paypal', ['brand-name'])).toEqual(['sound:spoofguard/warning-generic']);
  });
});

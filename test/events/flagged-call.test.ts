import { flaggedCallEventSchema, flaggedEvent } from '../../services/events/flagged-call';
import { seededScreeningPerFile } from '../support/screening';

const state = seededScreeningPerFile();

describe('flagged event', () => {
  it('is valid whatever the caller sent: a national number too long for E.164 keeps the call in the log', async () => {
    // read as a German national number, this becomes +49 and 14 digits: 16, more than E.164 holds
    const verdict = await state.screening.engine.screen({
      from: '"Amazon Kundenservice" <sip:80036384690000@carrier.example>',
      to: 'sip:+4930123456@spoofguard.example',
    });
    expect(verdict.verdict).not.toBe('allow');
    expect(verdict.caller.e164).toBe('+4980036384690000');
    const event = flaggedEvent({ callId: 'sip:long', source: 'sip', receivedAt: Date.now() }, verdict);
    expect(flaggedCallEventSchema.safeParse(event).success).toBe(true);
    expect(event.caller).toMatchObject({ raw: expect.stringContaining('80036384690000') });
    expect(event.caller?.e164).toBeUndefined();
  });
});

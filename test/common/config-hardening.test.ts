import { refuseKnownDefaultSecrets, isLoopback } from '../../services/common/default-secrets';
import { runCli } from '../cli/run-cli';
import { testConfig } from '../support/config';

describe('published default secrets', () => {
  it('are refused for a peer not on loopback, with one line naming the setting', () => {
    const remote = testConfig({
      ari: { url: 'http://pbx.example.net:8088', password: 'change-me' },
      sip: { drachtioHost: '192.0.2.10', drachtioSecret: 'cymru' },
    });
    expect(() => refuseKnownDefaultSecrets(remote, ['ari'])).toThrow(
      /refusing to start: ari\.password is a published default and Asterisk \(pbx\.example\.net\) is not on loopback/,
    );
    expect(() => refuseKnownDefaultSecrets(remote, ['sip'])).toThrow(/sip\.drachtioSecret is a published default/);
    expect(() => refuseKnownDefaultSecrets(remote, ['worker'])).not.toThrow();
  });

  it('are allowed while every peer is on this host, and any secret of your own anywhere', () => {
    const local = testConfig({
      ari: { url: 'http://127.0.0.1:8088', password: 'change-me' },
      sip: { drachtioHost: '::1', drachtioSecret: 'change-me-drachtio' },
    });
    expect(() => refuseKnownDefaultSecrets(local, ['ari', 'sip'])).not.toThrow();
    const own = testConfig({
      ari: { url: 'http://pbx.example.net:8088', password: 'a-secret-of-our-own' },
      sip: { drachtioHost: '192.0.2.10', drachtioSecret: 'another-secret-of-ours' },
    });
    expect(() => refuseKnownDefaultSecrets(own, ['ari', 'sip'])).not.toThrow();
    expect(['127.0.0.1', '127.9.9.9', 'localhost', '[::1]'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['10.0.0.1', 'localhost.example.net', '::', '0.0.0.0'].map(isLoopback)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('`spoofguard ari` exits 78 at once with that line', async () => {
    const result = await runCli(['ari'], {
      env: { SPOOFGUARD_ARI_URL: 'http://192.0.2.1:8088', SPOOFGUARD_ARI_PASSWORD: 'change-me' },
    });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('ari.password is a published default');
  });
});

describe('header values from config', () => {
  it('refuse CR, LF and other control characters: they would end the SIP header early', () => {
    expect(() => testConfig({ sip: { blockCallInfo: '<https://x.example/b>\r\nX-Injected: 1' } })).toThrow(
      /sip\.blockCallInfo.*no CR, LF/s,
    );
    expect(() =>
      testConfig({
        trunks: { t: { country: 'DE', international: false, identityHeaders: ['From'], tagPrefix: 'Warn\n: ' } },
      }),
    ).toThrow(/tagPrefix.*no CR, LF/s);
    expect(testConfig({ sip: { blockCallInfo: '<https://x.example/b>;purpose=info' } }).sip.blockCallInfo).toContain(
      'purpose',
    );
  });
});

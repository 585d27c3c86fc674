import { checkSrfInternals, installedSrf, SRF_VERSION } from '../../services/sip/srf-patches';

describe("drachtio-srf's internals the SIP front steps into", () => {
  it('are where the pinned version has them', () => {
    expect(installedSrf().version).toBe(SRF_VERSION);
    expect(() => checkSrfInternals()).not.toThrow();
  });

  it('a version that moved them stops the start, naming what is missing', () => {
    const installed = installedSrf();
    const moved = {
      ...installed,
      version: '5.1.0',
      agentPrototype: { ...installed.agentPrototype, _onMsg: undefined },
      proto: {},
    };
    expect(() => checkSrfInternals(moved)).toThrow(
      /drachtio-srf is not the version the SIP front's patches were written for: version 5\.0\.29 \(installed: 5\.1\.0\), app\._init \(lib\/proto\.js\), DrachtioAgent#_onMsg/,
    );
  });
});

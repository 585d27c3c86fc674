import { Metrics } from '../../services/common/metrics';

describe('metrics', () => {
  it('exposes screenings by verdict and their latency as Prometheus counters and a histogram', async () => {
    const metrics = new Metrics('sip');
    for (const elapsedMs of [0.3, 0.7, 3, 30, 400])
      metrics.observeVerdict({ verdict: 'allow', degraded: false, elapsedMs });
    metrics.observeVerdict({ verdict: 'warn', degraded: true, elapsedMs: 1 });
    const text = await metrics.registry.metrics();
    const lines = text.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'spoofguard_screenings_total{verdict="allow",role="sip"} 5',
        'spoofguard_screenings_total{verdict="warn",role="sip"} 1',
        'spoofguard_screenings_total{verdict="block",role="sip"} 0',
        'spoofguard_screenings_degraded_total{role="sip"} 1',
        '# TYPE spoofguard_screening_duration_seconds histogram',
        'spoofguard_screening_duration_seconds_bucket{le="0.0005",role="sip"} 1',
        'spoofguard_screening_duration_seconds_bucket{le="0.001",role="sip"} 3',
        'spoofguard_screening_duration_seconds_bucket{le="0.005",role="sip"} 4',
        'spoofguard_screening_duration_seconds_bucket{le="0.05",role="sip"} 5',
        'spoofguard_screening_duration_seconds_bucket{le="0.25",role="sip"} 5',
        'spoofguard_screening_duration_seconds_bucket{le="+Inf",role="sip"} 6',
        'spoofguard_screening_duration_seconds_count{role="sip"} 6',
      ]),
    );
    expect(Number(/^spoofguard_screening_duration_seconds_sum\{role="sip"\} (.*)$/m.exec(text)?.[1])).toBeCloseTo(
      0.435,
    );
    // counts keep adding up across scrapes
    metrics.observeVerdict({ verdict: 'allow', degraded: false, elapsedMs: 0.1 });
    const again = await metrics.registry.metrics();
    expect(again).toContain('spoofguard_screenings_total{verdict="allow",role="sip"} 6');
    expect(again).toContain('spoofguard_screening_duration_seconds_count{role="sip"} 7');
  });

  it('counts our own STIR/SHAKEN checks by result and times them', async () => {
    const metrics = new Metrics('kamailio');
    metrics.observeVerdict({
      verdict: 'allow',
      degraded: false,
      elapsedMs: 0.3,
      stir: { result: 'passed-A' },
      stirMs: 0.15,
    });
    metrics.observeVerdict({
      verdict: 'warn',
      degraded: false,
      elapsedMs: 0.3,
      stir: { result: 'failed-time' },
      stirMs: 0.05,
    });
    metrics.observeVerdict({ verdict: 'warn', degraded: false, elapsedMs: 0.3 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('spoofguard_stir_results_total{result="passed-A",role="kamailio"} 1');
    expect(text).toContain('spoofguard_stir_results_total{result="failed-time",role="kamailio"} 1');
    expect(text).toContain('spoofguard_stir_verify_seconds_count{role="kamailio"} 2');
    expect(text).toContain('spoofguard_stir_verify_seconds_bucket{le="0.0002",role="kamailio"} 2');
  });
});

describe('call logger', () => {
  it('carries the call id on every line, and makes no child for lines below the level', async () => {
    const { Writable } = await import('node:stream');
    const { createLogger, callLogger } = await import('../../services/common/logger');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const parent = createLogger({ level: 'info', destination: sink });
    let children = 0;
    const child = parent.child.bind(parent);
    parent.child = ((...args: Parameters<typeof parent.child>) => {
      children++;
      return child(...args);
    }) as typeof parent.child;
    const log = callLogger(parent, 'call-7', { channel: 'c1' });
    log.debug('not written');
    expect(children).toBe(0);
    log.info({ step: 1 }, 'written');
    log.warn('again');
    expect(children).toBe(1);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ callId: 'call-7', channel: 'c1', step: 1, msg: 'written' }),
      expect.objectContaining({ callId: 'call-7', msg: 'again' }),
    ]);
    expect(log.level).toBe('info');
  });
});

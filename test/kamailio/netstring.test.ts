import { netstring, NetstringDecoder } from '../../services/kamailio/netstring';

const frames = (events: ReturnType<NetstringDecoder['push']>): string[] =>
  events.flatMap((e) => (e.kind === 'frame' ? [e.data.toString()] : []));

describe('netstrings as evapi frames them ("<length>:<bytes>,")', () => {
  it('several frames in one chunk, and whitespace between them, as evapi tolerates', () => {
    const d = new NetstringDecoder(100);
    expect(frames(d.push(Buffer.from('3:abc,\r\n 5:hello,0:,')))).toEqual(['abc', 'hello', '']);
    expect(d.buffered).toBe(0);
  });

  it('a frame cut anywhere (in its length, its body, before its comma) comes out whole once', () => {
    const whole = netstring('{"v":1,"i":5}');
    for (let cut = 1; cut < whole.length; cut++) {
      const d = new NetstringDecoder(100);
      const first = frames(d.push(whole.subarray(0, cut)));
      expect(first).toEqual([]);
      expect(d.buffered).toBe(cut);
      expect(frames(d.push(whole.subarray(cut)))).toEqual(['{"v":1,"i":5}']);
    }
  });

  it('lengths are bytes, not characters', () => {
    const d = new NetstringDecoder(100);
    expect(frames(d.push(netstring('Grüße ⚠')))).toEqual(['Grüße ⚠']);
  });

  it('a frame over the cap is skipped unread as its bytes go by, and reported once; the next frame reads', () => {
    const d = new NetstringDecoder(10);
    const big = Buffer.concat([Buffer.from('20:'), Buffer.alloc(20, 0x78), Buffer.from(','), netstring('ok')]);
    const events = [...d.push(big.subarray(0, 8)), ...d.push(big.subarray(8, 15)), ...d.push(big.subarray(15))];
    expect(events.filter((e) => e.kind === 'oversized')).toEqual([{ kind: 'oversized', bytes: 20 }]);
    expect(frames(events)).toEqual(['ok']);
    expect(d.buffered).toBe(0);
  });

  it('bytes that are no netstring: reported, the rest of the chunk dropped', () => {
    const d = new NetstringDecoder(100);
    expect(d.push(Buffer.from('hello there,3:abc,'))).toEqual([{ kind: 'garbage', excerpt: 'hello there,3:abc,' }]);
    expect(d.push(Buffer.from('3:abcX'))).toEqual([{ kind: 'garbage', excerpt: '3:abcX' }]);
    // a length of more digits than any frame we take
    expect(d.push(Buffer.from('12345678901:'))[0]?.kind).toBe('garbage');
    expect(frames(d.push(netstring('fresh')))).toEqual(['fresh']);
  });

  it('reset forgets a half frame (its connection is gone)', () => {
    const d = new NetstringDecoder(100);
    d.push(Buffer.from('10:abc'));
    expect(d.buffered).toBe(6);
    d.reset();
    expect(d.buffered).toBe(0);
    expect(frames(d.push(netstring('next')))).toEqual(['next']);
  });
});

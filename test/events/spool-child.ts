// A process that spools events and then waits to be killed (the spool takeover test's dead producer).
import { Spool } from '../../services/events/spool';
import { quietLogger } from '../support/config';

const [dir, count] = process.argv.slice(2);
const spool = new Spool(dir, 'sip', quietLogger(), { staleMs: 2000 });
void (async () => {
  for (let n = 0; n < Number(count); n++) await spool.append({ n, from: process.pid });
  process.stdout.write('spooled\n');
  setInterval(() => undefined, 1000);
})();

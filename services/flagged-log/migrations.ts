/**
 * Schema migrations, one list for both stores: each step has its SQLite and PostgreSQL form. A store applies
 * the steps above its recorded version in one transaction each.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string[];
  postgres: string[];
}

const INDEXES = [
  'CREATE INDEX IF NOT EXISTS flagged_calls_received ON flagged_calls (received_at DESC, call_id DESC)',
  'CREATE INDEX IF NOT EXISTS flagged_calls_caller ON flagged_calls (caller_e164, received_at DESC)',
  'CREATE INDEX IF NOT EXISTS flagged_calls_brand ON flagged_calls (brand, received_at DESC)',
  'CREATE INDEX IF NOT EXISTS flagged_calls_verdict ON flagged_calls (verdict, received_at DESC)',
  'CREATE INDEX IF NOT EXISTS flagged_calls_outcome ON flagged_calls (outcome, received_at DESC)',
  'CREATE INDEX IF NOT EXISTS flagged_calls_called ON flagged_calls (called, received_at DESC)',
];

/** The columns of version 1 with their SQLite and PostgreSQL types. */
const FLAGGED_CALLS_V1: [string, string, string][] = [
  ['call_id', 'TEXT PRIMARY KEY', 'TEXT PRIMARY KEY'],
  ['source', 'TEXT NOT NULL', 'TEXT NOT NULL'],
  ['received_at', 'INTEGER NOT NULL', 'BIGINT NOT NULL'],
  ['caller_raw', 'TEXT', 'TEXT'],
  ['caller_e164', 'TEXT', 'TEXT'],
  ['caller_kind', 'TEXT', 'TEXT'],
  ['display_name', 'TEXT', 'TEXT'],
  ['called', 'TEXT', 'TEXT'],
  ['trunk', 'TEXT', 'TEXT'],
  ['verdict', 'TEXT', 'TEXT'],
  ['score', 'INTEGER', 'INTEGER'],
  ['reasons', 'TEXT', 'TEXT'],
  ['brand', 'TEXT', 'TEXT'],
  ['degraded', 'INTEGER', 'BOOLEAN'],
  ['outcome', 'TEXT', 'TEXT'],
  ['ring_ms', 'INTEGER', 'INTEGER'],
  ['warning_ms', 'INTEGER', 'INTEGER'],
  ['talk_ms', 'INTEGER', 'INTEGER'],
  ['ended_at', 'INTEGER', 'BIGINT'],
  ['updated_at', 'INTEGER NOT NULL', 'BIGINT NOT NULL'],
];

const createTable = (dialect: 1 | 2, suffix = ''): string =>
  `CREATE TABLE flagged_calls (${FLAGGED_CALLS_V1.map((c) => `${c[0]} ${c[dialect]}`).join(', ')})${suffix}`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'flagged calls',
    sqlite: [createTable(1, ' WITHOUT ROWID'), ...INDEXES],
    postgres: [createTable(2), ...INDEXES],
  },
  {
    // the key is spoofguard's own id; what the network called the call stays searchable
    version: 2,
    name: 'SIP Call-ID and Asterisk channel as search fields',
    sqlite: [
      'ALTER TABLE flagged_calls ADD COLUMN sip_call_id TEXT',
      'ALTER TABLE flagged_calls ADD COLUMN channel_id TEXT',
      'CREATE INDEX IF NOT EXISTS flagged_calls_sip_call_id ON flagged_calls (sip_call_id)',
      'CREATE INDEX IF NOT EXISTS flagged_calls_channel_id ON flagged_calls (channel_id)',
    ],
    postgres: [
      'ALTER TABLE flagged_calls ADD COLUMN IF NOT EXISTS sip_call_id TEXT',
      'ALTER TABLE flagged_calls ADD COLUMN IF NOT EXISTS channel_id TEXT',
      'CREATE INDEX IF NOT EXISTS flagged_calls_sip_call_id ON flagged_calls (sip_call_id)',
      'CREATE INDEX IF NOT EXISTS flagged_calls_channel_id ON flagged_calls (channel_id)',
    ],
  },
  {
    // who changed the lists or the log, what, when and how many entries: listed by analysts
    version: 3,
    name: 'audit trail of admin actions',
    sqlite: [
      'CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, count INTEGER, detail TEXT)',
      'CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at DESC, id DESC)',
    ],
    postgres: [
      'CREATE TABLE IF NOT EXISTS audit_log (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, count INTEGER, detail TEXT)',
      'CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at DESC, id DESC)',
    ],
  },
  {
    // what our own STIR/SHAKEN check found (trunks with stir: verify), why it failed, the signer's origid
    version: 4,
    name: 'STIR/SHAKEN result',
    sqlite: [
      'ALTER TABLE flagged_calls ADD COLUMN stir TEXT',
      'ALTER TABLE flagged_calls ADD COLUMN stir_detail TEXT',
      'ALTER TABLE flagged_calls ADD COLUMN stir_origid TEXT',
    ],
    postgres: [
      'ALTER TABLE flagged_calls ADD COLUMN IF NOT EXISTS stir TEXT',
      'ALTER TABLE flagged_calls ADD COLUMN IF NOT EXISTS stir_detail TEXT',
      'ALTER TABLE flagged_calls ADD COLUMN IF NOT EXISTS stir_origid TEXT',
    ],
  },
  {
    // which report to the brand's abuse desk holds a call, and when it was made: a call is reported once
    version: 5,
    name: 'reports to the brands',
    sqlite: [
      'ALTER TABLE flagged_calls ADD COLUMN reported_at INTEGER',
      'ALTER TABLE flagged_calls ADD COLUMN report_id TEXT',
      'CREATE INDEX IF NOT EXISTS flagged_calls_report_id ON flagged_calls (report_id)',
    ],
    postgres: [
      'ALTER TABLE flagged_calls ADD COLUMN IF NOT EXISTS reported_at BIGINT',
      'ALTER TABLE flagged_calls ADD COLUMN IF NOT EXISTS report_id TEXT',
      'CREATE INDEX IF NOT EXISTS flagged_calls_report_id ON flagged_calls (report_id)',
    ],
  },
];

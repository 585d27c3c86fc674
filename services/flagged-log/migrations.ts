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

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'flagged calls',
    sqlite: [
      `CREATE TABLE flagged_calls (
        call_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        caller_raw TEXT,
        caller_e164 TEXT,
        caller_kind TEXT,
        display_name TEXT,
        called TEXT,
        trunk TEXT,
        verdict TEXT,
        score INTEGER,
        reasons TEXT,
        brand TEXT,
        degraded INTEGER,
        outcome TEXT,
        ring_ms INTEGER,
        warning_ms INTEGER,
        talk_ms INTEGER,
        ended_at INTEGER,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID`,
      ...INDEXES,
    ],
    postgres: [
      `CREATE TABLE flagged_calls (
        call_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        caller_raw TEXT,
        caller_e164 TEXT,
        caller_kind TEXT,
        display_name TEXT,
        called TEXT,
        trunk TEXT,
        verdict TEXT,
        score INTEGER,
        reasons TEXT,
        brand TEXT,
        degraded BOOLEAN,
        outcome TEXT,
        ring_ms INTEGER,
        warning_ms INTEGER,
        talk_ms INTEGER,
        ended_at BIGINT,
        updated_at BIGINT NOT NULL
      )`,
      ...INDEXES,
    ],
  },
];

// The harness's private services live in the package's testing subpath so users' tests can use them too.
export {
  findPostgresBinaries,
  freePort,
  type PrivatePostgresOptions,
  type PrivateService,
  startPrivatePostgres,
  startPrivateRedis,
} from '../../src/testing/private-services.js';

/**
 * Server settings under which a slot is invalidated soon: at most 1 MB of WAL
 * kept for it, small segments recycled at each checkpoint (tests of lost slots).
 */
export const TINY_SLOT_WAL_SETTINGS: Record<string, string> = {
  max_slot_wal_keep_size: '1MB',
  wal_keep_size: '0',
  max_wal_size: '32MB',
  min_wal_size: '32MB',
};

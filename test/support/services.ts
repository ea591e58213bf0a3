// The harness's private services live in the package's testing subpath so users' tests can use them too.
export {
  findPostgresBinaries,
  freePort,
  type PrivatePostgresOptions,
  type PrivateService,
  startPrivatePostgres,
  startPrivateRedis,
} from '../../src/testing/private-services.js';

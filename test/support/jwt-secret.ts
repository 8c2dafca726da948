/**
 * The JWT secret of every suite on external storage (embedded ones generate their own). One value
 * for all: the query roles are cluster-wide and their password derives from it.
 */
export const testJwtSecret = "test-secret-that-is-long-enough-for-hs256-0123456789";

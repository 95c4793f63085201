// Authenticating a burst: requests that present one token at once share one look-up in the store
// (200 streaming runs started together cost one query, not 200), every one of them is admitted or
// refused alike, and a token revoked afterwards is refused at once.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, RequestAuthenticator, revokeApiToken } from '@aifactory/server';

describe('authenticating many requests at once', () => {
  let store: Store;

  beforeAll(async () => {
    store = await openStore();
  });

  afterAll(async () => {
    await store?.close();
  });

  it('looks a token presented by 50 requests at once up once, and admits each as its principal', async () => {
    const { token } = await createApiToken(store, { principal: 'olga@example.com', roles: ['operator'] });
    const authenticator = new RequestAuthenticator({ store });
    const reads = vi.spyOn(store.db, 'select');
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => authenticator.authenticate(token, '10.0.0.1')));
    expect(reads).toHaveBeenCalledTimes(1);
    reads.mockRestore();
    expect(outcomes.every((outcome) => outcome.kind === 'authenticated' && outcome.principal.id === 'olga@example.com')).toBe(true);
  });

  it('refuses every request of a burst with an unknown token, each counted toward the failed-attempt limit', async () => {
    const authenticator = new RequestAuthenticator({ store, failedAuthLimit: { burst: 5, perSecond: 0.001 } });
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => authenticator.authenticate('aif_unknown0000000000000000000000', '10.0.0.2')),
    );
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['refused', 'refused', 'refused', 'refused', 'refused']);
    expect((await authenticator.authenticate('aif_unknown0000000000000000000000', '10.0.0.2')).kind).toBe('limited');
  });

  it('refuses a token revoked after a burst admitted it', async () => {
    const { token, id } = await createApiToken(store, { principal: 'rev@example.com', roles: ['operator'] });
    const authenticator = new RequestAuthenticator({ store });
    await Promise.all(Array.from({ length: 10 }, () => authenticator.authenticate(token, '10.0.0.3')));
    await revokeApiToken(store, id);
    authenticator.forget(id);
    expect((await authenticator.authenticate(token, '10.0.0.3')).kind).toBe('refused');
  });
});

import type { SecretsLoader, MerchantSecret } from '../secrets/types';
import { buildMerchantContext, type ClientSettings, type MerchantContext, type MerchantRole } from './context';

/**
 * Hands out merchant contexts, rebuilding one only when the loader returns a new secret version, so keys are
 * parsed once per container and a rotated key is picked up without a deploy.
 */
export class MerchantDirectory {
  private readonly built = new WeakMap<MerchantSecret, MerchantContext>();

  constructor(
    private readonly loader: SecretsLoader,
    private readonly secretIds: Record<MerchantRole, string>,
    private readonly settings: ClientSettings,
  ) {}

  async get(role: MerchantRole): Promise<MerchantContext> {
    return this.contextFor(role, await this.loader.get(this.secretIds[role]));
  }

  /** One forced reload (the loader rate-limits it): for a notification signed by a key we do not hold yet. */
  async refresh(role: MerchantRole): Promise<MerchantContext> {
    return this.contextFor(role, await this.loader.refresh(this.secretIds[role]));
  }

  private contextFor(role: MerchantRole, secret: MerchantSecret): MerchantContext {
    let context = this.built.get(secret);
    if (!context) {
      context = buildMerchantContext(role, secret, this.settings);
      this.built.set(secret, context);
    }
    return context;
  }
}

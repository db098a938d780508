/** The signing key as stored in `signing_keys`: a PKCS#8 PEM private key. */
export interface StoredSigningKey {
  privateKeyPem: string;
  createdAt: Date;
}

export interface SigningKeyStore {
  /**
   * The key every instance signs with: the stored one, or `candidate` if none was stored yet. Two instances
   * calling this at once with different candidates both get the same key (one insert wins, the other reads it).
   */
  getOrCreate(candidate: StoredSigningKey): Promise<StoredSigningKey>;
}

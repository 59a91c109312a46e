//! Keys made on the server for users without their own (R14): an RSA key pair, handed over once
//! inside a password-protected PKCS#12 file together with its certificate, and never stored.

use std::fmt;

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKeyChain,
};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

use super::{CaError, KeyAlgorithm, PublicKey};

/// RSA rather than EC because every S/MIME client (older Outlook and mobile clients included)
/// can encrypt to RSA keys; 3072 bits is the NIST recommendation for use beyond 2030.
const RSA_BITS: usize = 3072;

/// PBKDF2 iterations for the key encryption and the MAC. OpenSSL's default is 2048; more makes
/// guessing a stolen file's password slower while opening it stays well under a second.
const PKCS12_ITERATIONS: u32 = 100_000;

/// A key pair made on the server. The private key cannot be printed, and its memory is wiped
/// when the value is dropped (the `rsa` crate zeroizes its key material).
pub struct ServerKey {
    key: RsaPrivateKey,
    public: PublicKey,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ServerKey({}, private key hidden)",
            self.public.algorithm
        )
    }
}

impl ServerKey {
    /// Generates an RSA 3072 key pair from the operating system's random generator.
    ///
    /// Takes a few hundred milliseconds of CPU: call it from a blocking thread
    /// (`tokio::task::spawn_blocking`), not on an async task.
    pub fn generate() -> Result<ServerKey, CaError> {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
            .map_err(|e| CaError::Failed(format!("generating an RSA key failed: {e}")))?;
        let spki_der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| CaError::Failed(format!("encoding the public key failed: {e}")))?
            .into_vec();
        let public = PublicKey {
            spki_der,
            algorithm: KeyAlgorithm::Rsa {
                bits: RSA_BITS as u32,
            },
        };
        Ok(ServerKey { key, public })
    }

    /// The public key, to certify.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }
}

/// Packs `key`, its certificate `cert_der` and the CA `chain` (DER, issuing CA first) into a
/// PKCS#12 file protected by `password`: PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC for key
/// and certificates, an HMAC-SHA-256 MAC — what OpenSSL 3, Windows, macOS and Thunderbird read
/// without legacy algorithms. `friendly_name` labels the key in the importing client.
pub fn pkcs12(
    cert_der: &[u8],
    chain: &[Vec<u8>],
    key: &ServerKey,
    password: &str,
    friendly_name: &str,
) -> Result<Vec<u8>, CaError> {
    if password.is_empty() {
        return Err(CaError::Refused("a PKCS#12 file needs a password".into()));
    }
    let failed = |what: &str, e: &dyn fmt::Display| CaError::Failed(format!("{what}: {e}"));
    // Zeroized on drop (a `SecretDocument`).
    let pkcs8 = key
        .key
        .to_pkcs8_der()
        .map_err(|e| failed("encoding the private key failed", &e))?;
    let private_key = p12_keystore::PrivateKey::from_der(pkcs8.as_bytes())
        .map_err(|e| failed("packing the private key failed", &e))?;
    let certificates = std::iter::once(cert_der)
        .chain(chain.iter().map(Vec::as_slice))
        .map(Certificate::from_der)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed("packing the certificates failed", &e))?;
    // localKeyId ties the key to its certificate for importing clients; any stable bytes do.
    let local_key_id = Sha256::digest(cert_der)[..20].to_vec();
    let mut store = KeyStore::new();
    store.add_entry(
        friendly_name,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
            local_key_id,
            private_key,
            certificates,
        )),
    );
    store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(PKCS12_ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(PKCS12_ITERATIONS)
        .write()
        .map_err(|e| failed("writing the PKCS#12 file failed", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r14_the_private_key_does_not_print() {
        let key = ServerKey::generate().expect("key");
        assert_eq!(
            format!("{key:?}"),
            "ServerKey(RSA 3072, private key hidden)"
        );
        assert_eq!(key.public_key().algorithm, KeyAlgorithm::Rsa { bits: 3072 });
    }
}
